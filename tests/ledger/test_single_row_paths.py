"""The shortcuts a one-row API upsert takes must give what the full path gives.

``conform`` skips its casts for a frame already canonical, ``validate_ledger`` skips the
schema of empty tables and ``LedgerStore.upsert`` skips empty tables: each is checked
here against the result the long way would give.
"""

from __future__ import annotations

import pandas as pd

from ledger.contract import TABLES
from ledger.frames import Ledger, conform, empty_frame, is_canonical
from ledger.store import LedgerStore
from ledger.table_schemas import passes_schema
from ledger.validation import validate_ledger

INVOICES = TABLES["invoices"]
CUSTOMERS = TABLES["customers"]


def _invoices(due_dates: list[object]) -> pd.DataFrame:
    raw = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2"],
            "customer_id": ["C1", "C1"],
            "issue_date": ["2026-01-05", "2026-01-06"],
            "due_date": due_dates,
            "amount": [100.0, 250.5],
        }
    )
    return conform(INVOICES, raw)


def test_conform_of_a_canonical_frame_is_an_equal_independent_copy() -> None:
    frame = _invoices(["2026-02-04", None])
    assert is_canonical(INVOICES, frame)
    again = conform(INVOICES, frame)
    pd.testing.assert_frame_equal(again, frame)
    again.loc[0, "amount"] = 999.0
    assert frame.loc[0, "amount"] == 100.0


def test_a_canonical_dtype_frame_with_times_of_day_is_still_normalized() -> None:
    frame = _invoices(["2026-02-04", "2026-02-05"])
    frame["due_date"] = frame["due_date"] + pd.Timedelta(hours=5)
    assert not is_canonical(INVOICES, frame)
    assert conform(INVOICES, frame)["due_date"].tolist() == [
        pd.Timestamp("2026-02-04"),
        pd.Timestamp("2026-02-05"),
    ]


def test_a_reordered_index_is_not_canonical() -> None:
    frame = _invoices(["2026-02-04", "2026-02-05"]).iloc[::-1]
    assert not is_canonical(INVOICES, frame)
    assert conform(INVOICES, frame)["invoice_id"].tolist() == ["I2", "I1"]


def test_empty_frames_are_fresh_copies() -> None:
    first = empty_frame(CUSTOMERS)
    first["extra"] = pd.Series(dtype="string")
    assert list(empty_frame(CUSTOMERS).columns) == list(CUSTOMERS.column_names)


def test_an_orphan_invoice_is_rejected_beside_empty_tables() -> None:
    frames = {name: empty_frame(table) for name, table in TABLES.items()}
    frames["invoices"] = _invoices(["2026-02-04", "2026-01-01"])
    report = validate_ledger(frames, known_ids={"customers": {"C2"}})
    reasons = {(r.line, r.column): r.reason for r in report.rejections}
    assert reasons[(2, "customer_id")].startswith("refers to customer 'C1', which is not in")
    assert (3, "due_date") in reasons  # due before issue: the row rule still runs
    assert report.counts["customers"].read == 0


def test_an_upsert_of_one_table_writes_it_and_leaves_the_others(sqlite_url: str) -> None:
    customers = conform(
        CUSTOMERS, pd.DataFrame({"customer_id": ["C1"], "name": ["Galil"], "currency": ["ILS"]})
    )
    with LedgerStore.from_url(sqlite_url) as store:
        store.migrate()
        store.upsert(Ledger.from_frames(customers=customers))
        invoices = _invoices(["2026-02-04", "2026-02-05"])
        counts = store.upsert(Ledger.from_frames(invoices=invoices))
        stored = store.load()
    assert counts == {"customers": 0, "invoices": 2, "payments": 0, "activities": 0}
    assert stored.customers["customer_id"].tolist() == ["C1"]
    assert stored.invoices["invoice_id"].tolist() == ["I1", "I2"]


def _bad_invoices() -> dict[str, pd.DataFrame]:
    good = _invoices(["2026-02-04", "2026-02-05"])
    cases = {
        "amount <= 0": good.assign(amount=[100.0, 0.0]),
        "missing required": good.assign(customer_id=pd.array(["C1", None], dtype="string")),
        "duplicate key": good.assign(invoice_id=pd.array(["I1", "I1"], dtype="string")),
        "bad currency": good.assign(currency=pd.array(["ils", None], dtype="string")),
        "due before issue": good.assign(due_date=pd.to_datetime(["2026-02-04", "2026-01-01"])),
    }
    return cases


def test_the_precheck_passes_a_clean_frame_and_the_schema_agrees() -> None:
    frame = _invoices(["2026-02-04", "2026-02-05"])
    assert passes_schema(INVOICES, frame)
    assert validate_ledger({"invoices": frame}, known_ids={"customers": {"C1"}}).ok


def test_the_precheck_refuses_every_kind_of_bad_row_the_schema_rejects() -> None:
    for case, frame in _bad_invoices().items():
        assert not passes_schema(INVOICES, frame), case
        report = validate_ledger({"invoices": frame}, known_ids={"customers": {"C1"}})
        assert report.rejected_lines("invoices"), case


def test_the_precheck_refuses_an_unknown_activity_kind() -> None:
    raw = pd.DataFrame(
        {"activity_id": ["A1"], "customer_id": ["C1"], "date": ["2026-01-05"], "kind": ["fax"]}
    )
    frame = conform(TABLES["activities"], raw)
    assert not passes_schema(TABLES["activities"], frame)
    assert passes_schema(
        TABLES["activities"], frame.assign(kind=frame["kind"].str.replace("fax", "call"))
    )
