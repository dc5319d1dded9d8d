"""The customer's paid history as of t: exact values on a four-invoice ledger."""

from __future__ import annotations

import math

import pytest

from ledger.frames import Ledger

HISTORY = (
    "paid_invoices_count",
    "late_invoices_count",
    "late_ratio_by_count",
    "late_ratio_by_amount",
    "mean_days_late",
    "last_days_late",
    "mean_days_late_last_4",
    "days_late_trend",
    "std_days_late",
    "max_days_late",
    "on_time_streak",
)


@pytest.fixture
def ledger(kit) -> Ledger:  # type: ignore[no-untyped-def]
    """c1 pays i1 10 days late, i2 2 days early, i3 25 days late; i4 is open."""
    return kit.ledger(
        [
            kit.invoice("i1", "2024-01-01", "2024-01-31", 100.0, paid="2024-02-10"),
            kit.invoice("i2", "2024-02-01", "2024-03-02", 500.0, paid="2024-02-29"),
            kit.invoice("i3", "2024-03-01", "2024-03-31", 300.0, paid="2024-04-25"),
            kit.invoice("i4", "2024-04-01", "2024-05-01", 400.0),
        ]
    )


def _history(kit, ledger: Ledger, invoice_id: str, as_of: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    row = kit.features(ledger, (invoice_id, as_of)).iloc[0]
    return {name: float(row[name]) for name in HISTORY}


def _assert_equal(actual: dict[str, float], expected: dict[str, float]) -> None:
    for name, value in expected.items():
        if math.isnan(value):
            assert math.isnan(actual[name]), name
        else:
            assert actual[name] == pytest.approx(value), name


def test_all_three_paid_before_t(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    expected = {
        "paid_invoices_count": 3,
        "late_invoices_count": 2,
        "late_ratio_by_count": 2 / 3,
        "late_ratio_by_amount": 400 / 900,
        "mean_days_late": 11,
        "last_days_late": 25,
        "mean_days_late_last_4": 11,
        "days_late_trend": 0,
        "std_days_late": math.sqrt(366 / 2),
        "max_days_late": 25,
        "on_time_streak": 0,
    }
    _assert_equal(_history(kit, ledger, "i4", "2024-05-10"), expected)


def test_only_invoices_settled_by_t_count(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    # At 2024-04-24, i3 (settled 04-25) is not history yet.
    expected = {
        "paid_invoices_count": 2,
        "late_invoices_count": 1,
        "late_ratio_by_count": 0.5,
        "late_ratio_by_amount": 100 / 600,
        "mean_days_late": 4,
        "last_days_late": -2,
        "std_days_late": math.sqrt(72),
        "max_days_late": 10,
        "on_time_streak": 1,
    }
    _assert_equal(_history(kit, ledger, "i4", "2024-04-24"), expected)


def test_a_new_customer_has_count_zero_and_nan_elsewhere(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    actual = _history(kit, ledger, "i1", "2024-01-15")
    assert actual["paid_invoices_count"] == 0
    assert actual["late_invoices_count"] == 0
    assert all(math.isnan(actual[name]) for name in HISTORY[2:])


@pytest.mark.parametrize(
    ("own", "expected"),
    [
        # Leaving out the late maximum: max falls back to 10, the streak joins up to i2.
        (
            "i3",
            {
                "paid_invoices_count": 2,
                "last_days_late": -2,
                "max_days_late": 10,
                "on_time_streak": 1,
                "mean_days_late": 4,
            },
        ),
        # Leaving out the on-time one in the middle.
        (
            "i2",
            {
                "paid_invoices_count": 2,
                "last_days_late": 25,
                "max_days_late": 25,
                "on_time_streak": 0,
                "mean_days_late": 17.5,
            },
        ),
        (
            "i1",
            {
                "paid_invoices_count": 2,
                "late_ratio_by_amount": 300 / 800,
                "max_days_late": 25,
                "std_days_late": math.sqrt(364.5),
            },
        ),
    ],
)
def test_the_rows_own_invoice_is_not_its_history(kit, ledger: Ledger, own: str, expected) -> None:  # type: ignore[no-untyped-def]
    _assert_equal(_history(kit, ledger, own, "2024-05-10"), expected)


def test_recent_window_takes_the_four_latest_settled(kit) -> None:  # type: ignore[no-untyped-def]
    # Days late in settle order: 30, 0, -5, 8, 12 -> last 4 = 0, -5, 8, 12 (mean 3.75).
    ledger = kit.ledger(
        [
            kit.invoice("a", "2024-01-01", "2024-01-10", paid="2024-02-09"),
            kit.invoice("b", "2024-01-01", "2024-02-20", paid="2024-02-20"),
            kit.invoice("c", "2024-01-01", "2024-03-01", paid="2024-02-25"),
            kit.invoice("d", "2024-01-01", "2024-03-01", paid="2024-03-09"),
            kit.invoice("e", "2024-01-01", "2024-03-01", paid="2024-03-13"),
            kit.invoice("f", "2024-01-01", "2024-06-01"),
        ]
    )
    actual = _history(kit, ledger, "f", "2024-04-01")
    _assert_equal(
        actual,
        {
            "paid_invoices_count": 5,
            "last_days_late": 12,
            "mean_days_late_last_4": 3.75,
            "mean_days_late": 9,
            "days_late_trend": 3.75 - 9,
            "max_days_late": 30,
            "on_time_streak": 0,
        },
    )
    # Leaving out e (the latest) reaches back to a for the fourth.
    _assert_equal(
        _history(kit, ledger, "e", "2024-04-01"),
        {"last_days_late": 8, "mean_days_late_last_4": 33 / 4, "on_time_streak": 0},
    )
