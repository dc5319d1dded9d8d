"""The invoice's own features at t, and the customer's static and tenure features."""

from __future__ import annotations

import math

import pytest

from ledger.frames import Ledger


@pytest.fixture
def ledger(kit) -> Ledger:  # type: ignore[no-untyped-def]
    return kit.ledger(
        [
            kit.invoice(
                "i1",
                "2024-01-29",
                "2024-02-28",
                100.0,
                paid="2024-02-20",
                terms="Net 30",
                currency=None,
            ),
            kit.invoice(
                "i2",
                "2024-02-10",
                "2024-04-30",
                400.0,
                terms="שוטף+60",
                currency="USD",
                paperless=True,
            ),
            kit.invoice("i3", "2024-03-04", "2024-04-03", 250.0, terms="net30", currency="ILS"),
            kit.invoice("x1", "2024-03-01", "2024-03-31", 50.0, customer="c2"),
        ],
        payments=[kit.payment("p1", "2024-03-01", 100.0, "i2")],
        customers=[
            {
                "customer_id": "c1",
                "segment": "enterprise",
                "industry": "retail",
                "country": "IL",
                "currency": "ILS",
                "credit_limit": 5000.0,
                "created_date": "2023-12-01",
            },
            {"customer_id": "c2", "segment": "small"},
        ],
    )


def test_the_invoices_own_features_at_t(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    row = kit.features(ledger, ("i2", "2024-03-05")).iloc[0]
    expected = {
        "amount": 400.0,
        "open_amount": 300.0,
        "log_amount": math.log1p(400.0),
        "paid_share": 0.25,
        # Issued <= 03-05: 100, 400, 250 -> median 250.
        "amount_vs_customer_median": 400 / 250,
        "terms_days": 19 + 60,  # Feb 10 -> Feb 29 is 19 days, then 60
        "days_to_due": 56.0,
        "days_overdue": 0.0,
        "days_since_issue": 24.0,
        "issued_month_end": 0.0,
        "issue_weekday": 5.0,  # 2024-02-10 was a Saturday
        "paperless": 1.0,
    }
    assert {name: float(row[name]) for name in expected} == pytest.approx(expected)
    assert (row["terms"], row["currency"]) == ("eom+60", "USD")


def test_overdue_days_and_month_end_and_currency_fallback(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    features = kit.features(ledger, ("i3", "2024-04-13"), ("i1", "2024-01-29"))
    assert features["days_to_due"].tolist() == [-10.0, 30.0]
    assert features["days_overdue"].tolist() == [10.0, 0.0]
    assert features["issued_month_end"].tolist() == [0.0, 1.0]  # Jan 29: 2 days before end
    assert features["currency"].tolist() == ["ILS", "ILS"]  # i1 has none: the customer's
    assert features["terms"].tolist() == ["net30", "net30"]
    assert features["amount_vs_customer_median"].tolist() == [250 / 250, 1.0]


def test_customer_features(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    features = kit.features(ledger, ("i2", "2024-03-05"), ("x1", "2024-03-11"))
    assert features["tenure_days"].tolist() == [95.0, 10.0]  # c2: since its first invoice
    assert features["invoices_count"].tolist() == [3.0, 1.0]
    assert features["credit_limit"].iloc[0] == 5000.0
    assert math.isnan(features["credit_limit"].iloc[1])
    assert features["segment"].tolist() == ["enterprise", "small"]
    assert features["country"].iloc[0] == "IL"
    assert features["industry"].isna().tolist() == [False, True]
