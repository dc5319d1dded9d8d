"""Alembic migrations of the ledger database, on SQLite and a real PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
import typer
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from typer.testing import CliRunner

from ledger import migrations
from ledger.db_schema import VERSION_TABLE, metadata
from ledger.frames import Ledger
from ledger.store import LedgerStore, SchemaOutOfDate
from payrisk.commands import db as db_commands

ROOT = Path(__file__).resolve().parents[2]
LEDGER_TABLES = {"customers", "invoices", "payments", "activities"}
# Every table the migrations create: the ledger plus the service's (metadata has them all).
ALL_TABLES = set(metadata.tables)


def _table_names(store: LedgerStore) -> set[str]:
    return set(sa.inspect(store.engine).get_table_names())


def test_migrate_twice_is_a_no_op_and_needs_no_ini_file(
    database_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)  # no alembic.ini here: the config is built in code
    store = LedgerStore.from_url(database_url)
    try:
        assert store.revision() is None
        assert store.migrate() == migrations.head_revision()
        customers = pd.DataFrame({"customer_id": ["c1"], "credit_limit": [100.0]})
        store.upsert(Ledger.from_frames(customers=customers))
        assert store.migrate() == migrations.head_revision()
        assert store.revision() == migrations.head_revision()
        assert _table_names(store) == ALL_TABLES | {VERSION_TABLE}
        assert store.existing_ids("customers") == {"c1"}
    finally:
        store.dispose()


def test_downgrade_to_base_then_upgrade_to_head(database_url: str) -> None:
    store = LedgerStore.from_url(database_url)
    try:
        store.migrate()
        with store.engine.begin() as connection:
            migrations.downgrade(connection, "base")
        assert _table_names(store) == {VERSION_TABLE}
        assert store.revision() is None
        with store.engine.begin() as connection:
            migrations.upgrade(connection)
        assert _table_names(store) == ALL_TABLES | {VERSION_TABLE}
        assert store.revision() == migrations.head_revision()
    finally:
        store.dispose()


def test_the_migrated_schema_matches_db_schema_exactly(database_url: str) -> None:
    store = LedgerStore.from_url(database_url)
    try:
        store.migrate()
        with store.engine.connect() as connection:
            context = MigrationContext.configure(
                connection, opts={"version_table": VERSION_TABLE, "compare_type": True}
            )
            differences = compare_metadata(context, metadata)
        assert differences == []
        indexes = {index["name"] for index in sa.inspect(store.engine).get_indexes("payments")}
        assert indexes == {
            "ix_payments_customer_id_payment_date",
            "ix_payments_invoice_id",
            "ix_payments_updated_at",
        }
    finally:
        store.dispose()


def test_a_database_from_a_newer_payrisk_is_refused(database_url: str) -> None:
    store = LedgerStore.from_url(database_url)
    try:
        store.migrate()
        with store.engine.begin() as connection:
            connection.execute(sa.text(f"update {VERSION_TABLE} set version_num = '9999'"))
        fresh = LedgerStore.from_url(database_url)
        with pytest.raises(SchemaOutOfDate, match="'9999', which this version of payrisk"):
            fresh.load()
        with pytest.raises(SchemaOutOfDate, match="upgrade payrisk"):
            fresh.migrate()
        fresh.dispose()
    finally:
        store.dispose()


def test_the_developer_alembic_ini_runs_online_and_offline(
    sqlite_url: str, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PAYRISK_DATABASE_URL", sqlite_url)
    config = Config(str(ROOT / "alembic.ini"))
    command.upgrade(config, "head", sql=True)
    assert "CREATE TABLE invoices" in capsys.readouterr().out
    command.upgrade(config, "head")
    store = LedgerStore.from_url(sqlite_url)
    assert store.revision() == migrations.head_revision()
    store.dispose()


def test_db_commands_upgrade_then_report_current(
    payrisk_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(payrisk_env.parent)
    app = typer.Typer()
    db_commands.register(app)
    app.callback()(lambda: None)
    runner = CliRunner()

    before = runner.invoke(app, ["db", "current", "--check"])
    first = runner.invoke(app, ["db", "upgrade"])
    second = runner.invoke(app, ["db", "upgrade"])
    after = runner.invoke(app, ["db", "current", "--check"])

    assert before.exit_code == 1
    assert "run `payrisk db upgrade`" in before.output
    assert first.exit_code == 0
    assert f"upgraded from empty to {migrations.head_revision()}" in first.output
    assert f"already at schema revision {migrations.head_revision()}" in second.output
    assert after.exit_code == 0
    assert (payrisk_env / "payrisk.db").is_file()
