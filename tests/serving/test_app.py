"""The app factory: nothing before the lifespan, OpenAPI, the catch-all, `payrisk serve`."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
import typer
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from models.registry import CHAMPION_ALIAS, set_alias
from payrisk.commands import serve as serve_commands
from payrisk.settings import Settings
from serving.app import create_app
from serving.deps import ConnectionDep, ModelDep

RegisterCopy = Callable[..., tuple[str, str]]


def test_building_the_app_touches_nothing(
    tmp_path: Path, service_settings: Callable[..., Settings]
) -> None:
    app = create_app(service_settings())
    assert isinstance(app, FastAPI)
    assert list(tmp_path.iterdir()) == []  # no database file, no data folder
    assert app.state.holder.current() is None


def test_the_lifespan_migrates_loads_and_stops_the_poller(
    registry: Any,
    register_copy: RegisterCopy,
    tmp_path: Path,
    service_settings: Callable[..., Settings],
) -> None:
    name, version = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, version)
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri,
        registered_model_name=name,
        model_poll_seconds=60,
    )
    app = create_app(settings)
    with TestClient(app) as client:
        poller = app.state.holder._poller
        assert client.get("/readyz").json()["model"]["version"] == version
        assert poller is not None and poller.is_alive()
    assert not poller.is_alive()
    assert (tmp_path / "service.db").is_file()


def test_openapi_documents_routes_auth_and_examples(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert {"/v1/customers/{customer_id}", "/v1/ledger/batch", "/readyz"} <= set(spec["paths"])
    assert spec["components"]["securitySchemes"]["ApiKey"] == {
        "type": "http",
        "scheme": "bearer",
        "description": "An API key from `payrisk keys create`, sent as "
        "`Authorization: Bearer <key>`.",
    }
    invoice = spec["components"]["schemas"]["InvoiceRecord"]
    assert invoice["examples"][0]["invoice_id"] == "INV-5001"
    put = spec["paths"]["/v1/customers/{customer_id}"]["put"]
    assert put["security"] == [{"ApiKey": []}]
    assert client.get("/docs").status_code == 200


def test_a_true_bug_is_a_json_500_with_the_request_id(
    service_settings: Callable[..., Settings],
) -> None:
    app = create_app(service_settings())

    @app.get("/boom")
    def boom() -> None:
        raise RuntimeError("a bug")

    with TestClient(app, raise_server_exceptions=False) as client:
        response = client.get("/boom", headers={"X-Request-ID": "trace-1"})
    assert response.status_code == 500
    assert response.json() == {
        "detail": "internal error; quote the request id when reporting it",
        "request_id": "trace-1",
    }
    assert response.headers["X-Request-ID"] == "trace-1"


def test_model_and_connection_dependencies(
    service_settings: Callable[..., Settings],
) -> None:
    app = create_app(service_settings())

    @app.get("/uses-model")
    def uses_model(model: ModelDep) -> dict[str, str]:
        return {"version": model.version}

    @app.get("/uses-connection")
    def uses_connection(connection: ConnectionDep) -> dict[str, int]:
        return {"one": connection.execute(sa.text("select 1")).scalar_one()}

    with TestClient(app) as client:
        no_model = client.get("/uses-model")
        connected = client.get("/uses-connection")
    assert no_model.status_code == 503
    assert no_model.json()["detail"].startswith("no model is loaded: cannot resolve")
    assert no_model.json()["model"] == "models:/payment-risk@champion"
    assert connected.json() == {"one": 1}


def test_serve_runs_uvicorn_with_the_factory(
    monkeypatch: pytest.MonkeyPatch, payrisk_env: Path
) -> None:
    calls: list[dict[str, Any]] = []
    monkeypatch.setattr("uvicorn.run", lambda app, **options: calls.append({"app": app, **options}))
    monkeypatch.setenv("PAYRISK_PORT", "8123")
    # Registered with monkeypatch so the variables serve sets for its workers are undone.
    sets = ("PAYRISK_SESSION_SECRET", "MLFLOW_HTTP_REQUEST_MAX_RETRIES", "MALLOC_ARENA_MAX")
    for name in (*sets, "MLFLOW_HTTP_REQUEST_TIMEOUT"):
        monkeypatch.setenv(name, "")
        monkeypatch.delenv(name)
    root = typer.Typer()
    serve_commands.register(root)
    root.callback()(lambda: None)

    result = CliRunner().invoke(root, ["serve", "--host", "0.0.0.0", "--workers", "2"])

    assert result.exit_code == 0, result.output
    assert calls == [
        {
            "app": "serving.app:create_app",
            "factory": True,
            "host": "0.0.0.0",
            "port": 8123,
            "workers": 2,
            "access_log": False,
            "log_level": "info",
            "timeout_worker_healthcheck": 60,
        }
    ]
    # Every worker signs page sessions with the same secret, MLflow retries are bounded and
    # the workers' malloc keeps two arenas.
    assert len(os.environ["PAYRISK_SESSION_SECRET"]) >= 32
    assert os.environ["MLFLOW_HTTP_REQUEST_MAX_RETRIES"] == "2"
    assert os.environ["MALLOC_ARENA_MAX"] == "2"
