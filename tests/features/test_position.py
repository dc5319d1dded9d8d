"""The customer's open position at t, with partial payments and an unapplied one."""

from __future__ import annotations

import pytest

from ledger.frames import Ledger

POSITION = (
    "open_invoices_count",
    "open_invoices_amount",
    "overdue_invoices_count",
    "overdue_invoices_amount",
    "overdue_share",
    "max_days_overdue",
    "credit_utilization",
)


@pytest.fixture
def ledger(kit) -> Ledger:  # type: ignore[no-untyped-def]
    return kit.ledger(
        [
            kit.invoice("i1", "2024-01-01", "2024-01-31", 100.0),
            kit.invoice("i2", "2024-01-15", "2024-02-14", 200.0, paid="2024-03-01"),
            kit.invoice("i3", "2024-02-10", "2024-03-11", 300.0),
            kit.invoice("x1", "2024-01-01", "2024-01-02", 999.0, customer="c2"),
        ],
        payments=[
            kit.payment("p1", "2024-01-20", 40.0, "i1"),
            kit.payment("p2", "2024-02-05", 10.0, "i1"),  # after i1's due date
            kit.payment("p3", "2024-02-20", 50.0, "i2"),
            kit.payment("p4", "2024-02-21", 500.0, None),  # unapplied: no invoice's amount
        ],
        customers=[
            {"customer_id": "c1", "credit_limit": 1000.0},
            {"customer_id": "c2", "credit_limit": 0.0},
        ],
    )


def _position(kit, ledger: Ledger, invoice_id: str, as_of: str) -> list[float]:  # type: ignore[no-untyped-def]
    row = kit.features(ledger, (invoice_id, as_of)).iloc[0]
    return [float(row[name]) for name in POSITION]


def test_before_anything_is_due(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    # i1 100-40 open, i2 200 open, nothing overdue (i1 due 01-31 is not < 01-31).
    assert _position(kit, ledger, "i2", "2024-01-31") == [2, 260, 0, 0, 0, 0, 0.26]


def test_overdue_amount_nets_payments_made_after_due(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    # At 02-25: i1 100-50 overdue 25 days, i2 200-50 overdue 11 days, i3 300 not due.
    expected_open, expected_overdue = 50 + 150 + 300, 50 + 150
    assert _position(kit, ledger, "i3", "2024-02-25") == pytest.approx(
        [3, expected_open, 2, expected_overdue, expected_overdue / expected_open, 25, 0.5]
    )


def test_a_settled_invoice_leaves_the_position(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    # i2 settled 03-01; at 03-12 i1 (41 days over) and i3 (1 day over) are open.
    assert _position(kit, ledger, "i3", "2024-03-12") == pytest.approx(
        [2, 350, 2, 350, 1.0, 41, 0.35]
    )


def test_zero_credit_limit_gives_nan_utilization(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    values = _position(kit, ledger, "x1", "2024-01-05")
    assert values[:6] == [1, 999, 1, 999, 1.0, 3]
    assert values[6] != values[6]  # NaN
