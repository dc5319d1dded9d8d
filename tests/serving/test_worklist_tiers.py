"""One tier everywhere: the scoring API and the worklist agree for the same customer.

The session's tiny champion scores its generated ledger (several currencies). The tier
thresholds are set near the terciles of the customers' amounts at risk, so all three
tiers occur and a disagreement anywhere would show.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np
import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from models.rollup import RiskTiers
from payrisk.settings import Settings
from serving.scoring import score_ledger

AS_OF = "2026-11-30"


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _rates(registry: Any) -> dict[str, float]:
    """An illustrative rate for every currency of the ledger but the reporting one."""
    currencies = set(registry.ledger.customers["currency"].dropna().astype(str))
    return {code: 0.5 + 0.25 * position for position, code in enumerate(sorted(currencies))}


@pytest.fixture
def thresholds(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
) -> tuple[float, float]:
    """Near the terciles of the customers' amounts at risk (reporting currency) at ``AS_OF``."""
    settings = service_settings(mlflow_tracking_uri=registry.tracking_uri)
    app = client_for(settings).app
    assert isinstance(app, FastAPI)
    model = app.state.holder.current().model
    ledger = registry.ledger
    settings = settings.model_copy(update={"fx_rates": _rates(registry)})

    scored = score_ledger(
        model,
        ledger,
        pd.Timestamp(AS_OF),
        ledger.customers["customer_id"].tolist(),
        method="path",
        tiers=RiskTiers.from_settings(settings),
    )
    amounts = scored.customers.loc[scored.customers["open_invoices"] > 0, "amount_at_risk"]
    ordered = np.sort(amounts.to_numpy(dtype="float64"))
    # midway between two customers, so no amount sits on a threshold (cents of rounding)
    low, high = (
        (ordered[i - 1] + ordered[i]) / 2 for i in (len(ordered) // 3, 2 * len(ordered) // 3)
    )
    assert high > low > 0
    return float(low), float(high)


def test_api_tier_equals_worklist_tier(
    registry: Any,
    thresholds: tuple[float, float],
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    medium, high = thresholds
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri,
        fx_rates=_rates(registry),
        tier_medium_amount=medium,
        tier_high_amount=high,
        calls_per_collector_per_day=1000,
    )
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    client.app.state.store.upsert(registry.ledger)
    keys = keys_for(client)
    refreshed = client.post(
        "/v1/scores:refresh", json={"as_of": AS_OF}, headers=bearer(keys["admin"])
    )
    assert refreshed.status_code == 200, refreshed.text

    listed = client.get(
        "/v1/worklist",
        params={"as_of": AS_OF, "page_size": 500},
        headers=bearer(keys["worklist"]),
    )
    assert listed.status_code == 200, listed.text
    items = {item["customer_id"]: item for item in listed.json()["items"]}
    scored = client.post(
        "/v1/scores",
        json={"customer_ids": sorted(items), "as_of": AS_OF},
        headers=bearer(keys["score"]),
    )
    assert scored.status_code == 200, scored.text
    answers = {row["customer_id"]: row for row in scored.json()["customers"]}

    assert set(answers) == set(items) and len(items) >= 10
    for customer_id, item in items.items():
        answer = answers[customer_id]
        assert answer["reporting_currency"] == settings.reporting_currency
        assert answer["amount_at_risk"] == pytest.approx(item["amount_at_risk"], abs=0.01)
        assert answer["risk_tier"] == item["tier"], customer_id
    assert {item["tier"] for item in items.values()} == {"high", "medium", "low"}
    # the thresholds in the reporting currency decide it, nothing else
    for item in items.values():
        expected = (
            "high"
            if item["amount_at_risk"] >= high
            else "medium"
            if item["amount_at_risk"] >= medium
            else "low"
        )
        assert item["tier"] == expected
