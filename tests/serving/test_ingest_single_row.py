"""A one-row ingest's shortcut (``serving.ingest.ingest_clean_row``) against the frame path.

The shortcut may only ever answer "accepted, stored as the frame path stores it". Every
row below goes the short way into one database and the frame way
(``serving.ingest.ingest_frames``) into a twin: the answers (row counts, or the 422's row
errors) and the stored ledgers must be equal, and the shortcut must have been taken for
the clean rows (else the frame path would only be compared with itself).
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from hypothesis import given
from hypothesis import strategies as st

from ledger.contract import TABLES
from ledger.db_schema import SQL_TABLES
from ledger.frames import Ledger
from ledger.store import LedgerStore
from serving.ingest import IngestRejected, ingest, ingest_clean_row, ingest_frames
from serving.schemas.ledger import RECORD_MODELS
from tests.bounded import bounded

SEED = Ledger.from_frames(
    customers=pd.DataFrame({"customer_id": ["C1", "C2"], "name": ["Galil", "Negev"]}),
    invoices=pd.DataFrame(
        {
            "invoice_id": ["I1"],
            "customer_id": ["C1"],
            "issue_date": pd.to_datetime(["2026-01-05"]),
            "due_date": pd.to_datetime(["2026-02-04"]),
            "amount": [100.0],
        }
    ),
)
DATES = {"issue_date": "2026-03-01", "due_date": "2026-03-31"}
INVOICE = {"invoice_id": "I2", "customer_id": "C1", "amount": 2.675, **DATES}
PAYMENT = {"payment_id": "P1", "customer_id": "C1", "payment_date": "2026-03-05"}
ACTIVITY = {"activity_id": "A1", "customer_id": "C2", "date": "2026-03-05", "kind": "call"}
PROMISED = {"promised_date": "2026-03-09", "invoice_id": "I1"}

Case = tuple[str, dict[str, Any]]  # (table, row)

# Rows the ledger's rules accept, each written by the shortcut.
CLEAN: list[Case] = [
    ("customers", {"customer_id": "C3", "country": "IL", "currency": "ILS", "credit_limit": 0.0}),
    ("customers", {"customer_id": "C1", "name": "Galil Foods", "credit_limit": 1234.565}),
    ("invoices", {**INVOICE, "currency": "USD", "disputed": True, "paid_date": "2026-03-01"}),
    ("invoices", {**INVOICE, "invoice_id": "I1", "amount": 1.005, "terms": "net30"}),
    ("payments", {**PAYMENT, "invoice_id": "I1", "amount": 0.125}),
    ("payments", {**PAYMENT, "payment_id": "P2", "amount": 10.0}),
    ("activities", {**ACTIVITY, "text": "called\nno answer"}),
    ("activities", {**ACTIVITY, "kind": "promise", "promised_amount": 10.015, **PROMISED}),
    ("activities", {**ACTIVITY, "activity_id": "A2", "kind": "reassign"}),
    ("activities", {**ACTIVITY, "activity_id": "A3", "kind": None}),
]
# Rows the ledger's rules reject: one per check, near misses included.
REJECTED: list[Case] = [
    ("customers", {"customer_id": "C4", "country": "il"}),
    ("customers", {"customer_id": "C4", "country": "ILS"}),
    ("customers", {"customer_id": "C4", "currency": "ils"}),
    ("customers", {"customer_id": "C4", "credit_limit": -0.01}),
    ("invoices", {**INVOICE, "amount": 0.0}),
    ("invoices", {**INVOICE, "amount": -5.0}),
    ("invoices", {**INVOICE, "currency": "usd"}),
    ("invoices", {**INVOICE, "due_date": "2026-02-28"}),
    ("invoices", {**INVOICE, "paid_date": "2026-02-28"}),
    ("invoices", {**INVOICE, "customer_id": "NOPE"}),
    ("payments", {**PAYMENT, "amount": 5.0, "invoice_id": "NOPE"}),
    ("payments", {**PAYMENT, "amount": 5.0, "customer_id": "NOPE"}),
    ("payments", {**PAYMENT, "amount": 0.0}),
    ("activities", {**ACTIVITY, "kind": "Call"}),
    ("activities", {**ACTIVITY, "kind": ""}),
    ("activities", {**ACTIVITY, "promised_amount": 0.0}),
    ("activities", {**ACTIVITY, "invoice_id": "NOPE"}),
    ("customers", {"customer_id": "C4", "country": "IL\n"}),  # ``$`` would let these in
    ("customers", {"customer_id": "C5", "currency": "ILS\n"}),
]


def _seeded(url: str) -> LedgerStore:
    store = LedgerStore.from_url(url)
    store.migrate()
    store.upsert(SEED)
    return store


@pytest.fixture
def twins(database_url: str, tmp_path: Path) -> Iterator[tuple[LedgerStore, LedgerStore]]:
    """The shortcut's database (SQLite, then PostgreSQL) and the frame path's (SQLite)."""
    short, framed = _seeded(database_url), _seeded(f"sqlite:///{tmp_path / 'framed.db'}")
    yield short, framed
    short.dispose()
    framed.dispose()


@pytest.fixture
def sqlite_twins(tmp_path: Path) -> Iterator[tuple[LedgerStore, LedgerStore]]:
    """Two seeded SQLite databases: the shortcut's and the frame path's."""
    short, framed = (_seeded(f"sqlite:///{tmp_path / name}") for name in ("a.db", "b.db"))
    yield short, framed
    short.dispose()
    framed.dispose()


def _outcome(call: Any, store: LedgerStore, table: str, row: dict[str, Any]) -> object:
    """Rows per table, or the row errors of the rejection."""
    record = RECORD_MODELS[table].model_validate(row)
    try:
        return call(store, {table: [record]})
    except IngestRejected as rejected:
        return [error.model_dump() for error in rejected.errors]


def _short_way(store: LedgerStore, records: dict[str, list[Any]]) -> object:
    ((table, (record,)),) = records.items()
    return ingest_clean_row(store, table, record)


def _assert_same_ledgers(short: LedgerStore, framed: LedgerStore) -> None:
    for name, frame in short.load().tables().items():
        pd.testing.assert_frame_equal(frame, framed.load().table(name), obj=name)


def test_clean_rows_go_the_short_way_and_store_what_the_frame_path_stores(
    twins: tuple[LedgerStore, LedgerStore],
) -> None:
    short, framed = twins
    for table, row in CLEAN:
        expected = _outcome(ingest_frames, framed, table, row)
        assert _outcome(_short_way, short, table, row) == expected, (table, row)
        assert expected == {name: int(name == table) for name in TABLES}
    _assert_same_ledgers(short, framed)


def test_rejected_rows_get_the_frame_paths_errors_and_write_nothing(
    twins: tuple[LedgerStore, LedgerStore],
) -> None:
    short, framed = twins
    before = short.load()
    for table, row in REJECTED:
        assert _outcome(_short_way, short, table, row) is None, (table, row)
        expected = _outcome(ingest_frames, framed, table, row)
        assert isinstance(expected, list) and expected, (table, row)
        assert _outcome(ingest, short, table, row) == expected, (table, row)
    _assert_same_ledgers(short, framed)
    for name, frame in before.tables().items():
        pd.testing.assert_frame_equal(short.load().table(name), frame, obj=name)


def _updated_at(store: LedgerStore, invoice_id: str) -> object:
    invoices = SQL_TABLES["invoices"]
    query = sa.select(invoices.c.updated_at).where(invoices.c.invoice_id == invoice_id)
    with store.engine.connect() as connection:
        return connection.execute(query).scalar_one()


def test_an_unchanged_row_sent_again_keeps_its_updated_at(
    twins: tuple[LedgerStore, LedgerStore],
) -> None:
    short, _ = twins
    row = {"invoice_id": "I1", "customer_id": "C1", "amount": 100.0}
    row |= {"issue_date": "2026-01-05", "due_date": "2026-02-04"}  # as seeded
    stored_at = _updated_at(short, "I1")
    assert _outcome(_short_way, short, "invoices", row) is not None
    assert _updated_at(short, "I1") == stored_at


# Near the rules' edges: codes in the wrong case or length, amounts around 0 and cents.
CODES = st.sampled_from([None, "ILS", "USD", "ils", "IL", "ILSX", "ILS\n", " ILS", "", "ÏLS"])
AMOUNTS = st.sampled_from([-1.0, -0.0, 0.0, 0.001, 0.005, 0.015, 1.005, 2.675, 1e15, 99.99])
DAYS = st.sampled_from(["2026-02-27", "2026-02-28", "2026-03-01", "2026-03-02"])


@given(
    currency=CODES,
    amount=AMOUNTS,
    due=DAYS,
    paid=st.none() | DAYS,
    customer=st.sampled_from(["C1", "C2", "C9"]),
)
@bounded(60)
def test_random_invoices_get_the_same_answer_both_ways(
    sqlite_twins: tuple[LedgerStore, LedgerStore],
    currency: str | None,
    amount: float,
    due: str,
    paid: str | None,
    customer: str,
) -> None:
    # The twins outlive one example: both get every example's row, so they stay equal.
    short, framed = sqlite_twins
    row = INVOICE | {"customer_id": customer, "amount": amount, "currency": currency}
    row |= {"issue_date": "2026-02-28", "due_date": due, "paid_date": paid}
    answer = _outcome(ingest_frames, framed, "invoices", row)
    assert _outcome(ingest, short, "invoices", row) == answer
    _assert_same_ledgers(short, framed)
