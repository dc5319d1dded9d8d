"""Broken / kept / active promises to pay, point in time, on a hand-made ledger."""

from __future__ import annotations

import pandas as pd
import pytest

from ledger.frames import Ledger
from serving.promises import promise_status, promise_summary


def _ledger() -> Ledger:
    customers = pd.DataFrame({"customer_id": ["C1", "C2", "C3", "C4"]})
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4"],
            "customer_id": ["C1", "C2", "C3", "C4"],
            "issue_date": pd.to_datetime(["2026-01-01"] * 4),
            "due_date": pd.to_datetime(["2026-01-31"] * 4),
            "amount": [100.0, 200.0, 300.0, 400.0],
            "paid_date": pd.to_datetime([None, None, None, "2026-02-12"]),
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P1", "P2", "P3"],
            "customer_id": ["C1", "C2", "C3"],
            "invoice_id": ["I1", None, "I3"],
            "payment_date": pd.to_datetime(["2026-02-10", "2026-02-05", "2026-02-21"]),
            "amount": [100.0, 50.0, 300.0],
        }
    )
    activities = pd.DataFrame(
        {
            "activity_id": ["A1", "A2", "A3", "A4", "A6", "A7"],
            "customer_id": ["C1", "C2", "C3", "C2", "C4", "C1"],
            "invoice_id": ["I1", None, "I3", None, "I4", None],
            "date": pd.to_datetime(
                ["2026-02-01", "2026-02-01", "2026-02-10", "2026-01-01", "2026-02-01", "2026-02-02"]
            ),
            "kind": ["promise", "promise", "promise", "promise", "promise", "call"],
            "promised_date": pd.to_datetime(
                ["2026-02-10", "2026-02-08", "2026-02-20", "2026-01-10", "2026-02-14", None]
            ),
            "promised_amount": [100.0, 80.0, 300.0, 10.0, 400.0, None],
        }
    )
    return Ledger.from_frames(
        customers=customers, invoices=invoices, payments=payments, activities=activities
    )


def _statuses(as_of: str) -> dict[str, str]:
    frame = promise_status(_ledger(), as_of)
    return dict(zip(frame["activity_id"], frame["status"], strict=True))


def test_statuses_at_a_date() -> None:
    # A1: paid exactly on the promised date -> kept. A2: 50 of 80 -> broken.
    # A3: date still ahead -> active. A4: paid only after its date -> broken.
    # A6: its invoice settled (paid_date) before the promised date -> kept.
    assert _statuses("2026-02-15") == {
        "A1": "kept",
        "A2": "broken",
        "A3": "active",
        "A4": "broken",
        "A6": "kept",
    }


def test_payment_after_t_is_not_seen() -> None:
    # At 02-09 the 02-10 payment has not happened: A1 is active, A3 not made yet.
    assert _statuses("2026-02-09") == {
        "A1": "active",
        "A2": "broken",
        "A4": "broken",
        "A6": "active",
    }


def test_payment_a_day_late_breaks_the_promise() -> None:
    assert _statuses("2026-02-25")["A3"] == "broken"


def test_promise_is_active_on_its_own_date() -> None:
    assert _statuses("2026-02-20")["A3"] == "active"


def test_paid_amount_counts_only_the_span() -> None:
    frame = promise_status(_ledger(), "2026-02-15").set_index("activity_id")
    assert frame.loc["A2", "paid_amount"] == pytest.approx(50.0)
    assert frame.loc["A4", "paid_amount"] == pytest.approx(0.0)


def test_summary_per_customer() -> None:
    summary = promise_summary(_ledger(), "2026-02-15")
    assert summary.loc["C2", "broken_promises"] == 2
    assert summary.loc["C3", "active_promise_until"] == pd.Timestamp("2026-02-20")
    assert pd.isna(summary.loc["C1", "active_promise_until"])


@pytest.mark.parametrize("as_of", ["2026-02-09", "2026-02-15", "2026-02-25"])
def test_agrees_with_the_broken_promises_feature(as_of: str) -> None:
    from features.build import build_features

    ledger = _ledger()
    rows = pd.DataFrame({"invoice_id": ["I1", "I2", "I3", "I4"], "as_of": pd.Timestamp(as_of)})
    features = build_features(ledger, rows).set_index("customer_id")["broken_promises_count"]
    summary = promise_summary(ledger, as_of)["broken_promises"]
    expected = summary.reindex(features.index).fillna(0).astype(float)
    pd.testing.assert_series_equal(features, expected, check_names=False)
