"""Stateless scoring over HTTP against the real app, a real MLflow store, SQLite and
PostgreSQL: stored == stateless == the whole-ledger batch for the same history; a broken
history is refused and nothing is stored; 413 past the limits; exact SHAP reasons when
the settings ask for them.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.frames import Ledger
from payrisk.settings import Settings
from serving.scoring import score_ledger
from tests.serving.conftest import AS_OF, bearer, customer_slice, records


def history_body(ledger: Ledger, customer_id: str, **extra: Any) -> dict[str, Any]:
    """The stateless request for one customer of ``ledger``."""
    part = customer_slice(ledger, [customer_id])
    return {
        "customer": records(part.customers)[0],
        "invoices": records(part.invoices),
        "payments": records(part.payments),
        "activities": records(part.activities),
        **extra,
    }


def test_stored_equals_stateless_equals_the_whole_ledger_batch(
    scoring: tuple[TestClient, dict[str, str]], registry: Any, chosen: list[str]
) -> None:
    client, keys = scoring
    customer_id = chosen[0]
    stored = client.get(
        f"/v1/customers/{customer_id}/risk", params={"as_of": AS_OF}, headers=bearer(keys["score"])
    )
    stateless = client.post(
        "/v1/scores:stateless",
        json=history_body(registry.ledger, customer_id, as_of=AS_OF),
        headers=bearer(keys["score"]),
    )
    assert stored.status_code == 200, stored.text
    assert stateless.status_code == 200, stateless.text
    assert stored.json() == stateless.json()

    answer = stored.json()
    assert answer["model"] == {"name": "payment-risk", "version": registry.version}
    # live reasons are the refresh's path attributions (settings.score_reasons_method)
    assert (answer["as_of"], answer["reasons_method"]) == (AS_OF, "path")
    customer = answer["customer"]
    invoices = customer["invoices"]
    assert customer["open_invoices"] == len(invoices) >= 1
    assert len(invoices[0]["reasons"]) == 3
    assert sum(invoices[0]["bucket_probabilities"].values()) == pytest.approx(1.0)

    # The customer's slice gives the same numbers as scoring the whole ledger at once.
    whole = score_ledger(
        client.app.state.holder.current().model,  # type: ignore[union-attr]
        registry.ledger,
        pd.Timestamp(AS_OF),
        [customer_id],
        method="path",
    )
    mine = whole.invoices[whole.invoices["customer_id"] == customer_id]
    assert [row["invoice_id"] for row in invoices] == mine["invoice_id"].tolist()
    # ... and the same reasons as the whole-ledger batch (the refresh) gives
    first = int(mine.index[0])
    assert [(r["feature"], r["contribution"]) for r in invoices[0]["reasons"]] == [
        (reason.feature, pytest.approx(reason.contribution, rel=1e-9))
        for reason in whole.reasons["en"][first]
    ]
    assert [row["p_over_30"] for row in invoices] == pytest.approx(mine["p_over_30"].tolist())
    assert customer["expected_amount_over_30"] == pytest.approx(
        float(whole.customers["expected_amount_over_30"].iloc[0])
    )


def test_stateless_refuses_broken_history_and_stores_nothing(
    scoring: tuple[TestClient, dict[str, str]], registry: Any, chosen: list[str]
) -> None:
    client, keys = scoring
    assert isinstance(client.app, FastAPI)
    headers = bearer(keys["score"])
    body = history_body(registry.ledger, chosen[0], as_of=AS_OF)
    body["payments"][0]["invoice_id"] = "INV-NOT-SENT"
    body["invoices"][0]["amount"] = -5.0
    before = client.app.state.store.load()

    refused = client.post("/v1/scores:stateless", json=body, headers=headers)

    assert refused.status_code == 422
    fields = {(error["table"], error["field"]) for error in refused.json()["errors"]}
    assert {("invoices", "amount"), ("payments", "invoice_id")} <= fields
    after = client.app.state.store.load()
    assert {name: len(frame) for name, frame in after.tables().items()} == {
        name: len(frame) for name, frame in before.tables().items()
    }


StartWith = Callable[..., tuple[TestClient, str]]


@pytest.fixture
def champion_with(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> StartWith:
    """Start an app serving the session champion with some settings changed: (client, a
    key of scope ``score``)."""

    def start(**overrides: object) -> tuple[TestClient, str]:
        settings = service_settings(mlflow_tracking_uri=registry.tracking_uri, **overrides)
        client = client_for(settings)
        return client, keys_for(client)["score"]

    return start


def test_limits_give_413(registry: Any, chosen: list[str], champion_with: StartWith) -> None:
    client, key = champion_with(max_score_customers=2, max_batch_rows=3)
    headers = bearer(key)
    many = client.post("/v1/scores", json={"customer_ids": ["a", "b", "c"]}, headers=headers)
    history = client.post(
        "/v1/scores:stateless", json=history_body(registry.ledger, chosen[0]), headers=headers
    )
    assert many.status_code == 413 and many.json()["max_score_customers"] == 2
    assert history.status_code == 413 and history.json()["max_batch_rows"] == 3


def test_exact_shap_reasons_when_the_settings_ask_for_them(
    registry: Any, chosen: list[str], champion_with: StartWith
) -> None:
    client, key = champion_with(score_reasons_method="shap")
    body = history_body(registry.ledger, chosen[0], as_of=AS_OF)
    answer = client.post("/v1/scores:stateless", json=body, headers=bearer(key))
    assert answer.status_code == 200, answer.text
    assert answer.json()["reasons_method"] == "shap"
    whole = score_ledger(
        client.app.state.holder.current().model,  # type: ignore[attr-defined]
        registry.ledger,
        pd.Timestamp(AS_OF),
        [chosen[0]],
        method="shap",
    )
    first = answer.json()["customer"]["invoices"][0]
    row = int(whole.invoices.index[whole.invoices["invoice_id"] == first["invoice_id"]][0])
    assert [reason["feature"] for reason in first["reasons"]] == [
        reason.feature for reason in whole.reasons["en"][row]
    ]


def test_a_customer_with_payments_and_no_invoices_is_scored_not_a_500(
    scoring: tuple[TestClient, dict[str, str]], registry: Any, chosen: list[str]
) -> None:
    # found by `make fuzz`: a payment of a customer without invoices indexed an empty array
    client, keys = scoring
    body = history_body(registry.ledger, chosen[0], as_of=AS_OF)
    payment = {"payment_id": "P-ONLY", "customer_id": chosen[0], "payment_date": AS_OF}
    body |= {"invoices": [], "payments": [payment | {"amount": 5.0}], "activities": []}
    answer = client.post("/v1/scores:stateless", json=body, headers=bearer(keys["score"]))
    assert answer.status_code == 200, answer.text
    assert answer.json()["customer"]["open_invoices"] == 0
    assert answer.json()["customer"]["invoices"] == []
