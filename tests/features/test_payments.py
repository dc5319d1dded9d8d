"""Payments as of t: recency, windows, the drop ratio, partial share, implied payments."""

from __future__ import annotations

import math

import pytest

from ledger.frames import Ledger

PAYMENTS = (
    "days_since_last_payment",
    "paid_amount_last_30d",
    "paid_amount_last_90d",
    "paid_amount_prev_90d",
    "payment_drop_ratio",
    "partial_payment_share",
)


@pytest.fixture
def ledger(kit) -> Ledger:  # type: ignore[no-untyped-def]
    return kit.ledger(
        [
            kit.invoice("i1", "2024-01-01", "2024-01-31", 400.0),
            kit.invoice("i2", "2024-01-01", "2024-01-31", 300.0, paid="2024-03-15"),
            kit.invoice("i3", "2024-06-01", "2024-07-01", 100.0),
        ],
        payments=[
            kit.payment("p1", "2024-01-20", 100.0, "i1"),
            kit.payment("p2", "2024-02-10", 300.0, "i1"),  # covers i1
            kit.payment("p3", "2024-05-01", 50.0, None),  # unapplied
        ],
    )


def _payments(kit, ledger: Ledger, as_of: str) -> list[float]:  # type: ignore[no-untyped-def]
    row = kit.features(ledger, ("i3", as_of)).iloc[0]
    return [float(row[name]) for name in PAYMENTS]


def test_windows_and_the_implied_payment_of_a_paid_date(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    # At 06-20: last 90 days (03-23, 06-20]: only p3 (50). Previous 90 (12-25, 03-23]:
    # p1 100 + p2 300 + i2 paid in full on 03-15 (300, implied by its paid date).
    # Applied payments: p1 (partial), p2 (partial: 300 < 400), i2's 300 (not partial).
    actual = _payments(kit, ledger, "2024-06-20")
    assert actual == pytest.approx([50, 0, 50, 700, 50 / 700, 2 / 3])


def test_nothing_paid_yet_is_nan_recency_and_zero_amounts(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    ledger_at_start = kit.ledger(
        [kit.invoice("i3", "2024-06-01", "2024-07-01", 100.0)],
    )
    actual = _payments(kit, ledger_at_start, "2024-06-02")
    assert math.isnan(actual[0])
    assert actual[1:4] == [0, 0, 0]
    assert math.isnan(actual[4]) and math.isnan(actual[5])


def test_a_payment_dated_t_counts_and_one_dated_after_does_not(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    assert _payments(kit, ledger, "2024-06-01")[:2] == [31.0, 0.0]
    at_p3 = kit.features(ledger, ("i1", "2024-05-01")).iloc[0]
    assert at_p3["days_since_last_payment"] == 0.0
    assert at_p3["paid_amount_last_30d"] == 50.0


def test_payments_of_a_customer_without_invoices_are_kept(kit) -> None:  # type: ignore[no-untyped-def]
    from features.context import build_context
    from features.payments import effective_payments

    payment = kit.frame([kit.payment("p1", "2024-05-01", 50.0, None)])
    only_payments = Ledger.from_frames(payments=payment)  # no invoices at all
    payments = effective_payments(build_context(only_payments))
    assert payments.amount.tolist() == [50.0] and payments.partial.tolist() == [0.0]
