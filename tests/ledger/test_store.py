"""LedgerStore on SQLite and a real PostgreSQL: round trip, idempotent upsert, atomicity."""

from __future__ import annotations

import datetime as dt
import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from ledger.contract import CUSTOMERS, INVOICES, TABLES
from ledger.db_schema import frame_from_rows, parameter_chunks
from ledger.frames import Ledger
from ledger.store import LedgerStore, SchemaOutOfDate, StoreError, StoreUnavailable


def _ledger() -> Ledger:
    """A small ledger touching every column kind, missing values and non-ASCII text."""
    customers = pd.DataFrame(
        {
            "customer_id": ["c2", "c1", "c3"],
            "name": ["Beta Ltd", "אלפא בע״מ", None],
            "segment": ["small", "enterprise", None],
            "country": ["GB", "IL", None],
            "currency": ["GBP", "ILS", None],
            "credit_limit": [5000.0, 125000.5, None],
            "created_date": ["2023-02-01", "2022-12-31", None],
            "language": ["en", "he", None],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["i3", "i1", "i2", "i4"],
            "customer_id": ["c2", "c1", "c1", "c3"],
            "issue_date": ["2024-03-01", "2024-01-01", "2024-02-29", "2024-04-30"],
            "due_date": ["2024-03-31", "2024-01-31", "2024-04-30", "2024-05-30"],
            "amount": [99.99, 1200.0, 12.3456, 7.5],
            "currency": ["GBP", "ILS", "ILS", None],
            "terms": ["net30", "net30", "eom+60", None],
            "disputed": pd.array([False, True, None, False], dtype="boolean"),
            "paperless": pd.array([True, None, False, None], dtype="boolean"),
            "paid_date": ["2024-04-02", "2024-01-30", None, None],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["p1", "p2", "p3"],
            "customer_id": ["c1", "c2", "c1"],
            "invoice_id": ["i1", "i3", None],
            "payment_date": ["2024-01-30", "2024-04-02", "2024-05-15"],
            "amount": [1200.0, 99.99, 5.0],
        }
    )
    activities = pd.DataFrame(
        {
            "activity_id": ["a1", "a2"],
            "customer_id": ["c1", "c1"],
            "invoice_id": ["i2", None],
            "date": ["2024-05-05", "2024-05-06"],
            "kind": ["promise", "note"],
            "promised_date": ["2024-05-20", None],
            "promised_amount": [12.35, None],
            "text": ["יבדוק מול הבנק", None],
        }
    )
    return Ledger.from_frames(
        customers=customers, invoices=invoices, payments=payments, activities=activities
    )


def _sorted(ledger: Ledger) -> dict[str, pd.DataFrame]:
    """What load() must return: each table ordered by primary key, amounts in cents."""
    frames = {}
    for name, table in TABLES.items():
        frame = ledger.table(name).sort_values(table.key, ignore_index=True)
        amounts = [column.name for column in table.columns if column.kind == "amount"]
        frames[name] = frame.assign(**{column: frame[column].round(2) for column in amounts})
    return frames


def _assert_ledger_equal(actual: Ledger, expected: Ledger) -> None:
    expected_frames = _sorted(expected)
    for name in TABLES:
        pd.testing.assert_frame_equal(actual.table(name), expected_frames[name], check_exact=True)


@pytest.fixture
def store(database_url: str) -> Iterator[LedgerStore]:
    """A migrated, empty store on SQLite and on PostgreSQL."""
    store = LedgerStore.from_url(database_url)
    store.migrate()
    yield store
    store.dispose()


def test_round_trip_keeps_every_row_value_and_dtype(store: LedgerStore) -> None:
    ledger = _ledger()
    counts = store.upsert(ledger)
    loaded = store.load()
    assert counts == {"customers": 3, "invoices": 4, "payments": 3, "activities": 2}
    _assert_ledger_equal(loaded, ledger)
    assert loaded.invoices["amount"].tolist() == [1200.0, 12.35, 99.99, 7.5]
    assert loaded.customers.loc[0, "name"] == "אלפא בע״מ"
    assert loaded.invoices["issue_date"].dtype == "datetime64[ns]"


def test_round_trip_in_chunks_smaller_than_the_table(store: LedgerStore) -> None:
    # 2 rows per statement batch, as with a tiny bound-parameter limit.
    store.engine.dialect.insertmanyvalues_max_parameters = 2 * len(INVOICES.columns)
    store.upsert(_ledger())
    _assert_ledger_equal(store.load(), _ledger())


_OLD = dt.datetime(2000, 1, 1, tzinfo=dt.UTC)


def _mark_stale(store: LedgerStore) -> None:
    """Backdate every invoice's updated_at, so a rewrite of a row shows."""
    with store.engine.begin() as connection:
        connection.execute(sa.text("update invoices set updated_at = :old"), {"old": _OLD})


def _stale_invoice_ids(store: LedgerStore) -> list[str]:
    query = sa.text("select invoice_id from invoices where updated_at < :cut order by invoice_id")
    with store.engine.connect() as connection:
        return list(connection.execute(query, {"cut": dt.datetime(2001, 1, 1)}).scalars())


def test_upsert_twice_gives_the_same_state_and_counts(store: LedgerStore) -> None:
    first = store.upsert(_ledger())
    _mark_stale(store)
    second = store.upsert(_ledger())
    assert second == first
    assert _stale_invoice_ids(store) == ["i1", "i2", "i3", "i4"]  # unchanged rows not rewritten
    _assert_ledger_equal(store.load(), _ledger())


def test_upsert_by_id_updates_only_that_row(store: LedgerStore) -> None:
    store.upsert(_ledger())
    _mark_stale(store)
    changed = (
        _ledger()
        .invoices.query("invoice_id == 'i2'")
        .assign(amount=15.0, paid_date=pd.Timestamp("2024-05-21"), disputed=True)
    )
    counts = store.upsert(Ledger.from_frames(invoices=changed))
    invoices = store.load().invoices.set_index("invoice_id")
    assert counts == {"customers": 0, "invoices": 1, "payments": 0, "activities": 0}
    assert invoices.loc["i2", "amount"] == 15.0
    assert invoices.loc["i2", "paid_date"] == pd.Timestamp("2024-05-21")
    assert bool(invoices.loc["i2", "disputed"]) is True
    assert invoices.loc["i1", "amount"] == 1200.0
    assert len(invoices) == 4
    assert _stale_invoice_ids(store) == ["i1", "i3", "i4"]  # only i2 got a new updated_at


def test_a_failure_midway_leaves_the_database_as_before(store: LedgerStore) -> None:
    store.upsert(_ledger())
    # customers and invoices are sent first and would succeed; the payment's customer is unknown.
    bad = Ledger.from_frames(
        customers=pd.DataFrame({"customer_id": ["c9"], "name": ["New"], "credit_limit": [1.0]}),
        invoices=_ledger().invoices.assign(amount=1.0),
        payments=pd.DataFrame(
            {
                "payment_id": ["p9"],
                "customer_id": ["ghost"],
                "payment_date": ["2024-06-01"],
                "amount": [10.0],
            }
        ),
    )
    with pytest.raises(StoreError, match="payments: the database refused"):
        store.upsert(bad)
    _assert_ledger_equal(store.load(), _ledger())


def test_duplicate_ids_are_refused_before_anything_is_sent(store: LedgerStore) -> None:
    customers = pd.DataFrame({"customer_id": ["c1", "c2", "c1"], "credit_limit": [1.0, 2.0, 3.0]})
    with pytest.raises(StoreError, match=r"customers: 1 duplicate customer_id values.*'c1'"):
        store.upsert(Ledger.from_frames(customers=customers))
    assert store.existing_ids("customers") == set()


def test_existing_ids(store: LedgerStore) -> None:
    store.upsert(_ledger())
    assert store.existing_ids("customers") == {"c1", "c2", "c3"}
    assert store.existing_ids("invoices") == {"i1", "i2", "i3", "i4"}
    assert store.existing_ids("activities") == {"a1", "a2"}
    with pytest.raises(KeyError, match="scores"):
        store.existing_ids("scores")


def test_an_empty_store_loads_an_empty_ledger_in_canonical_dtypes(store: LedgerStore) -> None:
    loaded = store.load()
    empty = Ledger.from_frames()
    for name in TABLES:
        assert loaded.table(name).empty
        assert loaded.table(name).dtypes.to_dict() == empty.table(name).dtypes.to_dict()


def test_a_database_never_migrated_says_run_db_upgrade(database_url: str) -> None:
    store = LedgerStore.from_url(database_url)
    try:
        with pytest.raises(
            SchemaOutOfDate, match=r"no payrisk tables yet: run `payrisk db upgrade`"
        ):
            store.load()
    finally:
        store.dispose()


def test_an_unreachable_server_names_the_url_without_the_password() -> None:
    store = LedgerStore.from_url("postgresql+psycopg://payrisk:s3cret@127.0.0.1:1/ledger")
    with pytest.raises(StoreUnavailable) as raised:
        store.existing_ids("customers")
    message = str(raised.value)
    assert "postgresql+psycopg://payrisk:***@127.0.0.1:1/ledger" in message
    assert "s3cret" not in message
    assert "refused" in message.lower()


def test_an_sqlite_file_that_cannot_be_opened_is_unavailable(tmp_path: Path) -> None:
    (tmp_path / "not-a-folder").write_text("")
    store = LedgerStore.from_url(f"sqlite:///{tmp_path / 'not-a-folder' / 'payrisk.db'}")
    with pytest.raises(StoreUnavailable, match="cannot use the database sqlite:///"):
        store.migrate()


def test_a_locked_sqlite_database_is_reported_and_left_unchanged(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'payrisk.db'}"
    with LedgerStore.from_url(url) as first:
        first.migrate()
    other_writer = sqlite3.connect(tmp_path / "payrisk.db", isolation_level=None)
    other_writer.execute("BEGIN IMMEDIATE")
    store = LedgerStore.from_url(url + "?timeout=0.2")
    try:
        with pytest.raises(StoreUnavailable, match="database is locked"):
            store.upsert(_ledger())
        other_writer.execute("ROLLBACK")
        assert store.existing_ids("invoices") == set()
        assert store.upsert(_ledger())["invoices"] == 4
    finally:
        other_writer.close()
        store.dispose()


def test_the_sqlite_folder_is_created_on_first_connect_not_before(tmp_path: Path) -> None:
    folder = tmp_path / "data" / "nested"
    store = LedgerStore.from_url(f"sqlite:///{folder / 'payrisk.db'}")
    assert not folder.exists()
    store.migrate()
    store.dispose()
    assert (folder / "payrisk.db").is_file()


@pytest.mark.parametrize(
    ("url", "reason"),
    [("mysql://u@h/db", "payrisk supports sqlite and postgresql"), ("::nonsense", "cannot parse")],
)
def test_an_unsupported_or_malformed_url_is_refused_at_construction(url: str, reason: str) -> None:
    with pytest.raises(StoreError, match=reason):
        LedgerStore.from_url(url)


def test_parameter_chunks_convert_missing_values_dates_and_cents() -> None:
    invoices = _ledger().invoices.sort_values("invoice_id", ignore_index=True)
    chunks = list(parameter_chunks(INVOICES, invoices, max_parameters=25))
    assert [len(chunk) for chunk in chunks] == [2, 2]
    second = chunks[0][1]
    assert second["invoice_id"] == "i2"
    assert second["issue_date"] == dt.date(2024, 2, 29)
    assert second["amount"] == 12.35
    assert second["paid_date"] is None
    assert second["disputed"] is None
    assert chunks[1][1]["currency"] is None


def test_load_orders_by_key_in_code_point_order(store: LedgerStore) -> None:
    ids = ["b", "B", "a-2", "A_1", "ב"]
    store.upsert(
        Ledger.from_frames(customers=pd.DataFrame({"customer_id": ids, "credit_limit": 1.0}))
    )
    assert store.load().customers["customer_id"].tolist() == ["A_1", "B", "a-2", "b", "ב"]


def test_rows_in_a_locale_collation_order_are_resorted_by_code_point() -> None:
    # What PostgreSQL returns for ORDER BY under an en_US collation.
    rows = [("A_1",) + (None,) * 9, ("a-2",) + (None,) * 9, ("B",) + (None,) * 9]
    frame = frame_from_rows(CUSTOMERS, rows)
    assert frame["customer_id"].tolist() == ["A_1", "B", "a-2"]
    assert frame.index.tolist() == [0, 1, 2]
    assert frame["created_date"].dtype == "datetime64[ns]"
