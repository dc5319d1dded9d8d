"""Snapshot rows: issue row, calendar grid while open; stop when paid, at the cutoff, or known."""

from __future__ import annotations

import pandas as pd
import pytest

from models.buckets import LateBuckets
from training.snapshots import (
    GRID_EPOCH,
    days_late_when_determined,
    snapshot_rows,
)


def _invoices(rows: list[tuple[str, str, str, str, str | None]]) -> pd.DataFrame:
    ids, customers, issued, due, paid = zip(*rows, strict=True)
    return pd.DataFrame(
        {
            "invoice_id": pd.array(ids, dtype="string"),
            "customer_id": pd.array(customers, dtype="string"),
            "issue_date": pd.to_datetime(list(issued)),
            "due_date": pd.to_datetime(list(due)),
            "amount": 100.0,
            "paid_date": pd.to_datetime(list(paid)),
        }
    )


def _as_list(rows: pd.DataFrame) -> list[tuple[str, str, str]]:
    return [
        (invoice, as_of.strftime("%Y-%m-%d"), kind)
        for invoice, as_of, kind in rows[["invoice_id", "as_of", "kind"]].itertuples(index=False)
    ]


def test_grid_is_calendar_aligned_and_stops_when_paid() -> None:
    # 2024-01-15 is on the 14-day grid anchored at 2000-01-03 (both Mondays).
    assert (pd.Timestamp("2024-01-15") - GRID_EPOCH).days % 14 == 0
    invoices = _invoices(
        [
            ("a", "x", "2024-01-10", "2024-02-09", "2024-01-29"),  # paid on a grid date
            ("b", "x", "2024-01-15", "2024-02-14", "2024-01-30"),  # issued on a grid date
            ("c", "y", "2024-01-20", "2024-01-20", "2024-01-20"),  # paid the day it was issued
        ]
    )
    rows = snapshot_rows(invoices, cutoff=pd.Timestamp("2024-06-30"), every_days=14)
    assert _as_list(rows) == [
        ("a", "2024-01-10", "issue"),
        ("a", "2024-01-15", "grid"),
        ("b", "2024-01-15", "issue"),
        ("b", "2024-01-29", "grid"),
    ]
    assert list(rows.columns) == ["invoice_id", "customer_id", "as_of", "kind"]
    assert rows["customer_id"].tolist() == ["x", "x", "x", "x"]


def test_open_invoice_stops_at_cutoff_and_settlement_after_cutoff_is_ignored() -> None:
    invoices = _invoices(
        [
            ("open", "x", "2024-01-10", "2024-02-09", None),
            ("later", "y", "2024-01-10", "2024-02-09", "2024-03-20"),
        ]
    )
    rows = snapshot_rows(invoices, cutoff=pd.Timestamp("2024-02-12"), every_days=14)
    expected_dates = ["2024-01-10", "2024-01-15", "2024-01-29", "2024-02-12"]
    assert _as_list(rows[rows["invoice_id"] == "open"]) == [
        ("open", d, "issue" if i == 0 else "grid") for i, d in enumerate(expected_dates)
    ]
    assert rows.loc[rows["invoice_id"] == "later", "as_of"].dt.strftime("%Y-%m-%d").tolist() == (
        expected_dates
    )


def test_snapshots_stop_once_only_the_last_bucket_is_possible() -> None:
    buckets = LateBuckets((0, 30, 60, 90))
    assert days_late_when_determined(buckets) == 91
    # Due 2024-01-01: open at the end of 2024-03-30 (due + 89) it can still be 90 days
    # late; from due + 90 on, it is > 90 whatever happens.
    invoices = _invoices([("old", "x", "2023-12-01", "2024-01-01", None)])
    rows = snapshot_rows(invoices, cutoff=pd.Timestamp("2024-12-31"), every_days=7, buckets=buckets)
    assert rows["as_of"].max() == pd.Timestamp("2024-03-25")  # last Monday <= 2024-03-30
    assert rows["as_of"].min() == pd.Timestamp("2023-12-01")
    assert len(rows) == 1 + 17  # issue row + Mondays from 2023-12-04 to 2024-03-25


def test_payments_settle_an_invoice_without_paid_date() -> None:
    invoices = _invoices([("a", "x", "2024-01-10", "2024-02-09", None)])
    payments = pd.DataFrame(
        {
            "payment_id": ["p1", "p2"],
            "customer_id": ["x", "x"],
            "invoice_id": pd.array(["a", "a"], dtype="string"),
            "payment_date": pd.to_datetime(["2024-01-20", "2024-01-29"]),
            "amount": [40.0, 60.0],
        }
    )
    rows = snapshot_rows(
        invoices, cutoff=pd.Timestamp("2024-06-30"), every_days=14, payments=payments
    )
    assert _as_list(rows) == [("a", "2024-01-10", "issue"), ("a", "2024-01-15", "grid")]


def test_nothing_after_the_cutoff_and_bad_interval() -> None:
    invoices = _invoices([("a", "x", "2024-03-01", "2024-03-31", None)])
    assert snapshot_rows(invoices, cutoff=pd.Timestamp("2024-02-28"), every_days=14).empty
    with pytest.raises(ValueError, match="every_days"):
        snapshot_rows(invoices, cutoff=pd.Timestamp("2024-02-28"), every_days=0)
