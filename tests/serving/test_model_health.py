"""GET /v1/model/health: the monitor's figures as JSON, from the real app and stored scores."""

from __future__ import annotations

import math
import re
from collections.abc import Callable
from typing import Any

import mlflow
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.scores_store import read_scores
from models.monitoring import MonitorConfig, monitor
from models.pyfunc import load_payment_risk_model, log_pyfunc_model
from models.registry import CHAMPION_ALIAS, set_alias, tracking_uri_set
from payrisk.settings import Settings

AS_OF_DATES = ("2026-06-30", "2026-09-30")


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def served(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> tuple[TestClient, dict[str, str]]:
    """The app serving the session champion on its whole training ledger, no scores yet."""
    # plain http to "testserver": a Secure session cookie would not come back
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri, session_cookie_secure=False
    )
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    client.app.state.store.upsert(registry.ledger)
    return client, keys_for(client)


def test_no_scores_yet_is_a_notice(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served

    response = client.get("/v1/model/health", headers=bearer(keys["score"]))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["status"] == "unknown"
    assert body["has_reference_profile"] is True
    assert any("no scores yet" in notice for notice in body["notices"])
    assert body["scores_drift"] == [] and body["realized_by_month"] == []


def test_health_gives_the_monitor_figures_for_the_stored_scores(
    served: tuple[TestClient, dict[str, str]], registry: Any
) -> None:
    client, keys = served
    for as_of in AS_OF_DATES:
        refreshed = client.post(
            "/v1/scores:refresh", json={"as_of": as_of}, headers=bearer(keys["admin"])
        )
        assert refreshed.status_code == 200, refreshed.text

    response = client.get("/v1/model/health", headers=bearer(keys["score"]))

    assert response.status_code == 200, response.text
    body = response.json()
    assert body["model_version"] == registry.version
    assert body["since"] == "2026-08-31" and body["until"] == "2026-09-30"
    assert {row["column"] for row in body["scores_drift"]} == {"p_late", "p_over_30"}
    worst_psi = max(row["psi"] for row in body["scores_drift"])
    expected_status = "ok" if worst_psi < 0.1 else "warn" if worst_psi < 0.25 else "alert"
    assert body["status"] == expected_status
    assert len(body["top_drifted_features"]) == 5
    assert [row["month"] for row in body["realized_by_month"]] == ["2026-06", "2026-09", "all"]
    # the same figures as the monitor computes on the same rows
    assert isinstance(client.app, FastAPI)
    store = client.app.state.store
    holder_model = client.app.state.holder.current().model
    expected = monitor(
        read_scores(store), store.load(), holder_model.reference, MonitorConfig()
    ).to_dict()
    assert body["recent_rows"] == expected["recent_rows"] > 0
    for got, want in zip(body["scores_drift"], expected["scores_drift"], strict=True):
        assert got["psi"] == pytest.approx(want["psi"])
    for got, want in zip(body["realized_by_month"], expected["realized_by_month"], strict=True):
        for name, value in want.items():
            if isinstance(value, float) and not math.isnan(value):
                assert got[name] == pytest.approx(value), name


def test_health_needs_the_score_scope(served: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = served

    assert client.get("/v1/model/health").status_code == 401
    assert client.get("/v1/model/health", headers=bearer(keys["ingest"])).status_code == 403


def test_model_card_page_shows_the_status_and_psi_table(
    served: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = served
    refreshed = client.post(
        "/v1/scores:refresh", json={"as_of": AS_OF_DATES[1]}, headers=bearer(keys["admin"])
    )
    assert refreshed.status_code == 200, refreshed.text
    token = re.search(r'name="csrf" value="([^"]+)"', client.get("/signin").text)
    assert token is not None
    signed = client.post(
        "/signin",
        data={"key": keys["worklist"], "next": "/worklist", "csrf": token.group(1)},
        follow_redirects=False,
    )
    assert signed.status_code == 303, signed.text

    page = client.get("/model")

    assert page.status_code == 200
    health = client.get("/v1/model/health", headers=bearer(keys["score"])).json()
    assert f'id="health-status">{health["status"]}<' in page.text
    table = re.search(r'<table id="psi".*?</table>', page.text, re.S)
    assert table is not None
    assert "p_late" in table.group(0) and "p_over_30" in table.group(0)
    assert health["top_drifted_features"][0] in table.group(0)


def test_a_model_without_a_reference_profile_says_so(
    registry: Any,
    register_copy: Callable[..., tuple[str, str]],
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    """An older model (logged before profiles existed) loads, serves, and health explains."""
    client = registry.client()
    good = load_payment_risk_model(
        client.get_model_version_download_uri(registry.model_name, registry.version)
    )
    experiment_id = client.get_run(registry.run_id).info.experiment_id
    with tracking_uri_set(registry.tracking_uri), mlflow.start_run(experiment_id=experiment_id):
        older = log_pyfunc_model(good.model, good.card, good.pyfunc.input_example)
    name, version = register_copy(str(older.model_uri))
    set_alias(client, name, CHAMPION_ALIAS, version)
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri, registered_model_name=name
    )
    app_client = client_for(settings)
    assert isinstance(app_client.app, FastAPI)
    app_client.app.state.store.upsert(registry.ledger)
    keys = keys_for(app_client)
    refreshed = app_client.post(
        "/v1/scores:refresh", json={"as_of": AS_OF_DATES[1]}, headers=bearer(keys["admin"])
    )
    assert refreshed.status_code == 200, refreshed.text

    body = app_client.get("/v1/model/health", headers=bearer(keys["score"])).json()

    assert body["has_reference_profile"] is False
    assert body["status"] == "unknown" and body["scores_drift"] == []
    assert any("no reference profile" in notice for notice in body["notices"])
    assert body["realized_by_month"][-1]["month"] == "all"
