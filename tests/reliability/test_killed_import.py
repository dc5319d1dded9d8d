"""`payrisk ledger import` killed (SIGKILL) in the middle of its transaction: all or none.

The kill is triggered deterministically: the test holds a lock on ``payments``, and
PostgreSQL's ``pg_stat_activity`` must show the importing backend waiting for it with
its ``INSERT INTO payments`` -- inside its one transaction, after writing (but not
committing) the batch's customers and invoices. After the kill the database must hold
none of the batch; the same import run to its end must then store all of it.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from ledger.store import LedgerStore

BIN = Path(sys.executable).parent
TABLES = ("customers", "invoices", "payments", "activities")

pytestmark = pytest.mark.postgres

Poll = Callable[[Callable[[], bool], float, str], float]


def _backends(admin: sa.Engine, database: str, where: str = "true") -> int:
    query = sa.text(
        f"select count(*) from pg_stat_activity where datname = :database and ({where})"
    )
    with admin.connect() as connection:
        return int(connection.execute(query, {"database": database}).scalar_one())


def _counts(url: str) -> dict[str, int]:
    engine = sa.create_engine(url)
    with engine.connect() as connection:
        counts = {
            table: int(connection.execute(sa.text(f"select count(*) from {table}")).scalar_one())
            for table in TABLES
        }
    engine.dispose()
    return counts


def _payrisk(*args: str, database_url: str) -> subprocess.Popen[bytes]:
    env = {**os.environ, "PAYRISK_DATABASE_URL": database_url}
    return subprocess.Popen(
        [str(BIN / "payrisk"), *args], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT
    )


def test_a_killed_import_leaves_none_of_its_batch(
    postgres_url: str, postgres_server_url: str, tmp_path: Path, poll: Poll
) -> None:
    ledger_dir = tmp_path / "ledger"
    generate = _payrisk(
        "generate",
        "--customers",
        "60",
        "--years",
        "2",
        "--seed",
        "5",
        "--end",
        "2026-11-30",
        "--format",
        "parquet",
        "--out",
        str(ledger_dir),
        database_url=postgres_url,
    )
    assert generate.wait(timeout=300) == 0, generate.stdout.read() if generate.stdout else ""
    expected = {table: len(pd.read_parquet(ledger_dir / f"{table}.parquet")) for table in TABLES}
    with LedgerStore.from_url(postgres_url) as store:  # closed: no backend of ours is left
        store.migrate()
    database = sa.make_url(postgres_url).database
    assert database is not None
    admin = sa.create_engine(postgres_server_url)

    # Our lock on payments stops the import right after it wrote customers and invoices.
    blocker = sa.create_engine(postgres_url)
    holding = blocker.connect()
    holding.begin()
    holding.execute(sa.text("lock table payments in exclusive mode"))
    importing = _payrisk("ledger", "import", str(ledger_dir), database_url=postgres_url)
    waiting = "wait_event_type = 'Lock' and query ilike 'insert into payments%'"
    try:
        poll(
            lambda: importing.poll() is not None or _backends(admin, database, waiting) > 0,
            240,
            "the import waiting to write payments",
        )
        assert importing.poll() is None, "the import ended before it could be killed"
        importing.kill()
        importing.wait(timeout=30)
    finally:
        if importing.poll() is None:
            importing.kill()
        holding.rollback()
        holding.close()
        blocker.dispose()
    try:
        # The server notices the dead client and rolls its transaction back.
        poll(lambda: _backends(admin, database) == 0, 60, "the killed import's backend to end")
    finally:
        admin.dispose()

    assert _counts(postgres_url) == dict.fromkeys(TABLES, 0)

    again = _payrisk("ledger", "import", str(ledger_dir), database_url=postgres_url)
    output = again.stdout.read().decode() if again.stdout else ""
    assert again.wait(timeout=300) == 0, output
    assert _counts(postgres_url) == expected
