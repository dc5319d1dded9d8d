"""A customer's revision (``serving.ledger_reads``): when it may key the answer cache."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime

import pandas as pd
import pytest
import sqlalchemy as sa

from ledger.db_schema import SQL_TABLES
from ledger.frames import Ledger
from ledger.store import LedgerStore
from serving.ledger_reads import read_customer_revision, read_customer_revisions


def _ledger() -> Ledger:
    customers = pd.DataFrame({"customer_id": ["A", "B"], "name": ["Alpha", "Beta"]})
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "customer_id": ["A", "B", "A"],
            "issue_date": pd.to_datetime(["2026-01-01", "2026-01-05", "2026-01-09"]),
            "due_date": pd.to_datetime(["2026-02-01", "2026-02-05", "2026-02-09"]),
            "amount": [100.0, 200.0, 300.0],
            "currency": ["USD", "USD", "USD"],
        }
    )
    return Ledger.from_frames(customers=customers, invoices=invoices)


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[LedgerStore]:
    store = LedgerStore.from_url(postgres_url)
    store.migrate()
    store.upsert(_ledger())
    yield store
    store.dispose()


def _set_amount(connection: sa.Connection, invoice_id: str, amount: float) -> None:
    invoices = SQL_TABLES["invoices"]
    connection.execute(
        invoices.update()
        .where(invoices.c.invoice_id == invoice_id)
        .values(amount=amount, updated_at=sa.func.now())
    )


def test_a_postgres_revision_changes_with_every_commit_whenever_its_writer_began(
    postgres_store: LedgerStore,
) -> None:
    """The race a revision must survive: a writer that began before the newest change
    commits a change of an existing row dated *before* it (``updated_at`` is the start
    of its transaction), leaving count and newest change as they were. The revision
    still changes with that commit, so it is settled at every moment."""
    first = read_customer_revision(postgres_store, "A")
    assert first.settled and first == read_customer_revision(postgres_store, "A")

    late = LedgerStore.from_url(postgres_store.engine.url.render_as_string(hide_password=False))
    try:
        with late.engine.connect() as connection, connection.begin():
            connection.execute(sa.text("select 1"))  # its transaction (and now()) starts here
            with postgres_store.engine.begin() as other:  # a later writer commits first
                _set_amount(other, "I1", 150.0)
            while_open = read_customer_revision(postgres_store, "A")
            assert while_open.settled and while_open.tables != first.tables
            _set_amount(connection, "I3", 375.0)  # dated at its start: before the other
            assert read_customer_revision(postgres_store, "A") == while_open  # not committed
        after = read_customer_revision(postgres_store, "A")
    finally:
        late.dispose()
    assert after.settled and after.tables != while_open.tables


def test_a_postgres_revision_ignores_rolled_back_and_other_customers_writes(
    postgres_store: LedgerStore,
) -> None:
    before_a = read_customer_revision(postgres_store, "A")
    before_b = read_customer_revision(postgres_store, "B")
    with postgres_store.engine.connect() as connection:
        with connection.begin() as transaction:
            _set_amount(connection, "I1", 999.0)
            transaction.rollback()
        with connection.begin():
            _set_amount(connection, "I2", 250.0)  # B's invoice
    assert read_customer_revision(postgres_store, "A") == before_a
    assert read_customer_revision(postgres_store, "B").tables != before_b.tables
    assert not read_customer_revision(postgres_store, "nobody").exists


def test_a_sqlite_revision_settles_after_its_clock_tick(sqlite_url: str) -> None:
    store = LedgerStore.from_url(sqlite_url)
    store.migrate()
    store.upsert(_ledger())
    assert not read_customer_revision(store, "A").settled  # written within the second
    with store.engine.begin() as connection:
        invoices, customers = SQL_TABLES["invoices"], SQL_TABLES["customers"]
        for table in (invoices, customers):
            connection.execute(table.update().values(updated_at=datetime(2026, 1, 1)))
    settled = read_customer_revision(store, "A")
    assert settled.settled and settled.exists
    assert not read_customer_revision(store, "nobody").exists


def test_revisions_read_together_equal_each_read_alone(database_url: str) -> None:
    store = LedgerStore.from_url(database_url)
    store.migrate()
    store.upsert(_ledger())
    with store.engine.begin() as connection:  # A long settled (SQLite's clock), B fresh
        for name in ("customers", "invoices"):
            table = SQL_TABLES[name]
            connection.execute(
                table.update()
                .where(table.c.customer_id == "A")
                .values(updated_at=datetime(2026, 1, 1))
            )
    asked = ["B", "nobody", "A", "B"]
    together = read_customer_revisions(store, asked)
    assert list(together) == ["B", "nobody", "A"]
    assert together == {
        customer_id: read_customer_revision(store, customer_id) for customer_id in asked
    }
    assert together["A"].tables != together["B"].tables and not together["nobody"].exists
    assert read_customer_revisions(store, []) == {}
    store.dispose()
