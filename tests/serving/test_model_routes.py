"""``GET /v1/model`` and ``POST /v1/model:reload`` against a real temporary MLflow store,
and the auth matrix of every scoring and model route."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from fastapi.testclient import TestClient

from models.registry import CHAMPION_ALIAS, set_alias
from payrisk.settings import Settings
from serving.auth import SCOPES

RegisterCopy = Callable[..., tuple[str, str]]

# (method, path, json body, the scope it needs) for every route of scoring and the model.
SCORING_ROUTES: list[tuple[str, str, dict[str, Any] | None, str]] = [
    ("GET", "/v1/customers/c1/risk", None, "score"),
    ("POST", "/v1/scores", {"customer_ids": ["c1"]}, "score"),
    ("POST", "/v1/scores:stateless", {"customer": {"customer_id": "c1"}}, "score"),
    ("POST", "/v1/scores:refresh", {}, "admin"),
    ("GET", "/v1/model", None, "score"),
    ("POST", "/v1/model:reload", None, "admin"),
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def served(
    registry: Any,
    register_copy: RegisterCopy,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> tuple[TestClient, dict[str, str], str, str]:
    """An app serving a fresh model name whose champion is version 1 (client, keys, name, v)."""
    name, version = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, version)
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri, registered_model_name=name
    )
    client = client_for(settings)
    return client, keys_for(client), name, version


def test_model_info_names_the_version_and_its_test_metrics(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[..., TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    client = client_for(service_settings(mlflow_tracking_uri=registry.tracking_uri))
    keys = keys_for(client)
    response = client.get("/v1/model", headers=bearer(keys["score"]))

    assert response.status_code == 200, response.text
    info = response.json()
    run = registry.client().get_run(registry.run_id)
    assert (info["name"], info["alias"], info["version"], info["run_id"]) == (
        "payment-risk",
        "champion",
        registry.version,
        registry.run_id,
    )
    assert info["model_uri"] == f"models:/payment-risk/{registry.version}"
    assert info["buckets"][0] == "on_time"
    assert info["metrics_error"] is None
    assert info["test_metrics"]["roc_auc_late"] == pytest.approx(
        run.data.metrics["test.model.roc_auc_late"]
    )
    assert all(not name.startswith("test.") for name in info["test_metrics"])
    assert info["trained_at"] is not None and info["registered_at"] is not None


def test_reload_unchanged_then_loaded(
    served: tuple[TestClient, dict[str, str], str, str],
    registry: Any,
    register_copy: RegisterCopy,
) -> None:
    client, keys, name, first = served
    unchanged = client.post("/v1/model:reload", headers=bearer(keys["admin"]))
    _, second = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, second)
    loaded = client.post("/v1/model:reload", headers=bearer(keys["admin"]))
    info = client.get("/v1/model", headers=bearer(keys["score"])).json()

    assert unchanged.status_code == 200
    assert unchanged.json() == {
        "outcome": "unchanged",
        "serving_version": first,
        "previous_version": first,
        "attempted_version": first,
        "error": None,
    }
    assert loaded.status_code == 200
    assert (loaded.json()["outcome"], loaded.json()["serving_version"]) == ("loaded", second)
    assert info["version"] == second


def test_a_broken_new_version_gives_409_and_the_old_one_keeps_serving(
    served: tuple[TestClient, dict[str, str], str, str],
    registry: Any,
    register_copy: RegisterCopy,
    broken_model_uri: str,
) -> None:
    client, keys, name, first = served
    _, broken = register_copy(broken_model_uri)
    set_alias(registry.client(), name, CHAMPION_ALIAS, broken)
    refused = client.post("/v1/model:reload", headers=bearer(keys["admin"]))
    info = client.get("/v1/model", headers=bearer(keys["score"]))
    ready = client.get("/readyz")

    assert refused.status_code == 409
    body = refused.json()
    assert (body["outcome"], body["serving_version"], body["attempted_version"]) == (
        "failed",
        first,
        broken,
    )
    assert body["detail"].startswith(f"reload failed, version {first} keeps serving: ")
    assert f"cannot load version {broken}" in body["error"]
    assert info.status_code == 200 and info.json()["version"] == first
    assert ready.status_code == 200 and ready.json()["model"]["last_error"] == body["error"]


def test_without_any_model_reload_is_503_and_scoring_says_why(
    client: TestClient, keys: dict[str, str]
) -> None:
    reload = client.post("/v1/model:reload", headers=bearer(keys["admin"]))
    info = client.get("/v1/model", headers=bearer(keys["score"]))
    risk = client.get("/v1/customers/c1/risk", headers=bearer(keys["score"]))

    assert reload.status_code == 503
    assert reload.json()["serving_version"] is None
    assert reload.json()["detail"].startswith("reload failed, version none keeps serving")
    assert info.status_code == 503 and risk.status_code == 503
    assert risk.json()["detail"].startswith("no model is loaded")


@pytest.mark.parametrize(("method", "path", "body", "scope"), SCORING_ROUTES)
def test_scoring_auth_matrix(
    client: TestClient,
    keys: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any] | None,
    scope: str,
) -> None:
    missing = client.request(method, path, json=body)
    unknown = client.request(method, path, json=body, headers=bearer("prk_not-a-key"))
    assert (missing.status_code, unknown.status_code) == (401, 401)
    assert missing.json()["error"] == "missing_api_key"
    for other in (s for s in SCOPES if s != scope):
        refused = client.request(method, path, json=body, headers=bearer(keys[other]))
        assert refused.status_code == 403, (path, other)
        assert refused.json()["required_scope"] == scope
    allowed = client.request(method, path, json=body, headers=bearer(keys[scope]))
    # no model is loaded in this app: past auth, the answer is 503 (no model)
    assert allowed.status_code == 503, allowed.text
