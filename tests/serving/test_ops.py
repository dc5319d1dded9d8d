"""Operations: health, readiness with and without a model, metrics, request ids, JSON logs."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger import migrations
from models.registry import CHAMPION_ALIAS, set_alias
from payrisk.settings import Settings
from serving.logs import JsonFormatter
from serving.metrics import ServiceMetrics

RegisterCopy = Callable[..., tuple[str, str]]


def _metric_lines(client: TestClient, prefix: str) -> list[str]:
    text = client.get("/metrics").text
    return [line for line in text.splitlines() if line.startswith(prefix)]


def test_healthz_answers_without_database_or_model(client: TestClient) -> None:
    response = client.get("/healthz")
    assert (response.status_code, response.json()) == (200, {"status": "ok"})


def test_readyz_is_503_with_the_reason_without_a_model(client: TestClient) -> None:
    response = client.get("/readyz")
    body = response.json()
    assert response.status_code == 503
    assert body["ready"] is False
    assert body["database"] == {
        "ok": True,
        "revision": migrations.head_revision(),
        "expected_revision": migrations.head_revision(),
        "error": None,
    }
    assert body["model"]["ok"] is False and body["model"]["version"] is None
    assert body["reasons"] == [f"model: {body['model']['last_error']}"]
    assert "does not exist" in body["model"]["last_error"]


def test_readyz_names_the_served_model_and_a_failed_reload(
    registry: Any,
    register_copy: RegisterCopy,
    broken_model_uri: str,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
) -> None:
    name, good = register_copy()
    _, broken = register_copy(broken_model_uri)
    set_alias(registry.client(), name, CHAMPION_ALIAS, good)
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri, registered_model_name=name
    )
    client = client_for(settings)
    ready = client.get("/readyz")
    set_alias(registry.client(), name, CHAMPION_ALIAS, broken)
    assert isinstance(client.app, FastAPI)
    client.app.state.holder.reload()
    after = client.get("/readyz")

    assert ready.status_code == 200 and ready.json()["reasons"] == []
    assert ready.json()["model"]["version"] == good
    assert after.status_code == 200  # the old model keeps serving
    assert after.json()["model"]["version"] == good
    assert after.json()["model"]["reload_failures"] == 1
    assert f"cannot load version {broken}" in after.json()["model"]["last_error"]
    assert _metric_lines(client, "payrisk_model_reload_failures_total") == [
        "payrisk_model_reload_failures_total 1.0"
    ]
    [info] = _metric_lines(client, "payrisk_model_info{")
    assert f'name="{name}"' in info and f'version="{good}"' in info


def test_metrics_count_requests_by_route_template_and_status(client: TestClient) -> None:
    client.get("/healthz")
    client.get("/healthz")
    client.put("/v1/customers/c1", json={})
    client.put("/v1/customers/c2", json={})
    client.get("/no/such/path")
    lines = _metric_lines(client, "payrisk_http_requests_total{")
    assert 'payrisk_http_requests_total{method="GET",route="/healthz",status="200"} 2.0' in lines
    expected_put = (
        'payrisk_http_requests_total{method="PUT",route="/v1/customers/{customer_id}",'
        'status="401"} 2.0'
    )
    assert expected_put in lines
    assert 'payrisk_http_requests_total{method="GET",route="unmatched",status="404"} 1.0' in lines
    assert _metric_lines(client, "payrisk_model_loaded ") == ["payrisk_model_loaded 0.0"]


def test_scores_by_tier_are_counted() -> None:
    metrics = ServiceMetrics()
    metrics.record_scores(["high", "low", "high"])
    text = metrics.exposition().decode()
    assert 'payrisk_scores_total{tier="high"} 2.0' in text
    assert 'payrisk_scores_total{tier="low"} 1.0' in text


def test_request_ids_are_echoed_or_generated(client: TestClient) -> None:
    given = client.get("/healthz", headers={"X-Request-ID": "erp-42.a"})
    generated = client.get("/healthz")
    unsafe = client.get("/healthz", headers={"X-Request-ID": "bad id\twith spaces"})
    error = client.put("/v1/customers/c1", json={}, headers={"X-Request-ID": "erp-43"})
    assert given.headers["X-Request-ID"] == "erp-42.a"
    assert len(generated.headers["X-Request-ID"]) == 32
    assert unsafe.headers["X-Request-ID"] != "bad id\twith spaces"
    assert error.headers["X-Request-ID"] == "erp-43"  # once, also on error bodies


def test_unknown_paths_and_methods_get_json(client: TestClient) -> None:
    missing = client.get("/v2/nothing")
    wrong_method = client.delete("/healthz")
    assert (missing.status_code, missing.json()) == (404, {"detail": "Not Found"})
    assert wrong_method.status_code == 405
    assert wrong_method.headers["content-type"] == "application/json"


def test_the_json_formatter_writes_one_object_per_line() -> None:
    record = logging.LogRecord("serving.access", logging.INFO, __file__, 1, "request", (), None)
    record.fields = {"request_id": "r1", "status": 200, "key_name": "erp"}
    line = JsonFormatter().format(record)
    parsed = json.loads(line)
    assert "\n" not in line
    assert {k: parsed[k] for k in ("level", "logger", "message", "request_id", "status")} == {
        "level": "INFO",
        "logger": "serving.access",
        "message": "request",
        "request_id": "r1",
        "status": 200,
    }
    assert parsed["ts"].endswith("+00:00")
