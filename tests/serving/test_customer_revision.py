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
from serving.ledger_reads import read_customer_revision


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


def test_a_postgres_revision_settles_once_no_older_writer_is_open(
    postgres_store: LedgerStore,
) -> None:
    """The race the rule closes: a writer that began before the newest change commits a
    change of an existing row dated *before* it, leaving count and newest change as
    they were. While such a writer is open the revision must not be settled."""
    assert read_customer_revision(postgres_store, "A").settled  # nobody is writing

    late = LedgerStore.from_url(postgres_store.engine.url.render_as_string(hide_password=False))
    try:
        with late.engine.connect() as connection, connection.begin():
            connection.execute(sa.text("select 1"))  # its transaction (and now()) starts here
            with postgres_store.engine.begin() as other:  # a later writer commits first
                _set_amount(other, "I1", 150.0)
            while_open = read_customer_revision(postgres_store, "A")
            assert not while_open.settled
            assert read_customer_revision(postgres_store, "B").settled  # not B's concern
            _set_amount(connection, "I3", 375.0)  # dated at its start: before the other
        after = read_customer_revision(postgres_store, "A")
    finally:
        late.dispose()
    # the late commit left the revision as it was: caching the open-time one was unsafe
    assert after.tables == while_open.tables
    assert after.settled


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
