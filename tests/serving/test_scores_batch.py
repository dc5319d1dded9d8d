"""The whole-ledger batch: ``POST /v1/scores:refresh`` stores every open invoice with the
model version (SQLite and PostgreSQL), and the scoring core's open-invoice, as-of and
roll-up rules on tiny inline ledgers.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.frames import Ledger
from ledger.scores_store import count_scores, read_latest_scores
from models.rollup import RiskTiers
from serving.scoring import AsOfOutOfRange, check_as_of, open_invoice_rows, rollup_customers
from tests.serving.conftest import AS_OF, bearer, customer_slice


def test_refresh_stores_every_open_invoice_with_the_version(
    scoring: tuple[TestClient, dict[str, str]], registry: Any, chosen: list[str]
) -> None:
    client, keys = scoring
    assert isinstance(client.app, FastAPI)
    store = client.app.state.store
    headers = bearer(keys["admin"])
    first = client.post("/v1/scores:refresh", json={"as_of": AS_OF}, headers=headers)
    second = client.post("/v1/scores:refresh", json={"as_of": AS_OF}, headers=headers)

    assert first.status_code == 200, first.text
    result = first.json()
    open_rows = open_invoice_rows(customer_slice(registry.ledger, chosen), pd.Timestamp(AS_OF))
    assert result["invoices_scored"] == len(open_rows) == second.json()["invoices_scored"]
    assert result["customers_scored"] == 3
    assert result["reasons_method"] == "path"
    assert set(result["seconds"]) >= {"load", "features", "predict", "reasons", "store", "total"}
    assert count_scores(store) == 2 * len(open_rows)

    latest = read_latest_scores(store)
    assert len(latest) == len(open_rows)
    assert sorted(latest["invoice_id"]) == sorted(open_rows["invoice_id"])
    assert set(latest["model_version"]) == {registry.version}
    assert latest["scored_at"].nunique() == 1
    assert latest["scored_at"].iloc[0] == pd.Timestamp(second.json()["scored_at"])
    assert latest["as_of"].iloc[0] == pd.Timestamp(AS_OF)
    reasons = latest["reasons"].iloc[0]
    assert reasons["method"] == "path" and len(reasons["en"]) == len(reasons["he"]) == 3
    assert sum(latest["bucket_probabilities"].iloc[0].values()) == pytest.approx(1.0)

    # the stored scores are the numbers the scoring routes give (reasons aside)
    risk = client.get(
        f"/v1/customers/{chosen[0]}/risk", params={"as_of": AS_OF}, headers=bearer(keys["score"])
    )
    stored = latest.set_index("invoice_id")["p_over_30"]
    for invoice in risk.json()["customer"]["invoices"]:
        assert stored[invoice["invoice_id"]] == pytest.approx(invoice["p_over_30"])


# -- the scoring core on inline ledgers ------------------------------------------------


def _tiny_ledger() -> Ledger:
    invoices = pd.DataFrame(
        {
            "invoice_id": ["i1", "i2", "i3", "i4", "i5"],
            "customer_id": ["c1"] * 5,
            "issue_date": pd.to_datetime(
                ["2026-01-01", "2026-01-10", "2026-02-01", "2026-03-05", "2026-01-15"]
            ),
            "due_date": pd.to_datetime(
                ["2026-01-31", "2026-02-09", "2026-03-03", "2026-04-04", "2026-02-14"]
            ),
            "amount": [100.0, 200.0, 300.0, 400.0, 500.0],
            # i1 paid on the as-of day; i2 paid the day after; i5 covered by payments
            "paid_date": pd.to_datetime(["2026-03-01", "2026-03-02", None, None, None]),
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["p1", "p2", "p3"],
            "customer_id": ["c1"] * 3,
            "invoice_id": ["i5", "i5", "i3"],
            "payment_date": pd.to_datetime(["2026-02-10", "2026-02-20", "2026-02-25"]),
            "amount": [250.0, 250.0, 100.0],
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ["c1"], "created_date": pd.to_datetime(["2025-12-15"])}
    )
    return Ledger.from_frames(customers=customers, invoices=invoices, payments=payments)


def test_open_invoices_at_a_date_follow_the_point_in_time_rule() -> None:
    rows = open_invoice_rows(_tiny_ledger(), pd.Timestamp("2026-03-01"))
    # i1 paid that day: closed; i2 paid later: open; i3 partly paid: open;
    # i4 not issued yet; i5 covered by payments on 2026-02-20: closed
    assert rows["invoice_id"].tolist() == ["i2", "i3"]
    assert (rows["as_of"] == pd.Timestamp("2026-03-01")).all()


def test_as_of_is_checked_against_the_data_and_today() -> None:
    ledger, today = _tiny_ledger(), date(2026, 12, 4)
    assert check_as_of(ledger, date(2025, 12, 15), today=today, max_future_days=30) == (
        pd.Timestamp("2025-12-15")
    )
    with pytest.raises(AsOfOutOfRange, match="before any of the data: the first date is 2025-12"):
        check_as_of(ledger, date(2025, 12, 14), today=today, max_future_days=30)
    with pytest.raises(AsOfOutOfRange, match="more than 30 days after today"):
        check_as_of(ledger, date(2027, 1, 4), today=today, max_future_days=30)
    with pytest.raises(AsOfOutOfRange, match="the first date is 1900-01-01"):
        check_as_of(Ledger.from_frames(), date(1, 1, 1), today=today, max_future_days=30)


def test_customer_rollup_covers_every_asked_customer_in_order() -> None:
    invoices = pd.DataFrame(
        {
            "customer_id": pd.array(["b", "a", "b"], dtype="string"),
            "currency": pd.array(["ILS", "USD", "EUR"], dtype="string"),
            "open_amount": [100.0, 50.0, 10.0],
            "p_over_30": [0.5, 0.05, 0.2],
        }
    )
    tiers = RiskTiers("USD", {"ILS": 0.25, "EUR": 1.1}, high_amount=10.0, medium_amount=5.0)
    rolled = rollup_customers(invoices, ["a", "b", "z"], tiers)
    assert rolled["customer_id"].tolist() == ["a", "b", "z"]
    assert rolled["open_invoices"].tolist() == [1, 2, 0]
    assert rolled["expected_amount_over_30"].tolist() == pytest.approx([2.5, 52.0, 0.0])
    # the tier is on the amount at risk in USD: b = 50 ILS x 0.25 + 2 EUR x 1.1
    assert rolled["amount_at_risk"].tolist() == pytest.approx([2.5, 14.7, 0.0])
    assert rolled["risk_tier"].tolist() == ["low", "high", "low"]
    no_rates = rollup_customers(invoices, ["a", "b"])
    assert no_rates["risk_tier"].tolist()[0] == "low" and pd.isna(no_rates["risk_tier"].iloc[1])
    # b mixes currencies; z has nothing open
    assert rolled["currency"].tolist()[0] == "USD" and rolled["currency"].isna().tolist()[1:] == [
        True,
        True,
    ]
    assert rolled["reasons_row"].tolist() == [1, 0, -1]
