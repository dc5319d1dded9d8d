"""Model-store faults: a corrupt champion or an unreachable MLflow store at start, and a
failing reload under concurrent requests. The service starts not-ready with the reason,
or keeps the last good model; a request never sees a half-loaded one."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from fastapi.testclient import TestClient

from models.registry import CHAMPION_ALIAS, set_alias
from payrisk.settings import Settings
from serving.model_holder import ModelHolder, ModelSnapshot

RegisterCopy = Callable[..., tuple[str, str]]


def _closed_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def test_a_corrupt_champion_at_start_means_not_ready_with_the_reason(
    registry: Any,
    register_copy: RegisterCopy,
    broken_model_uri: str,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    name, broken = register_copy(broken_model_uri)
    set_alias(registry.client(), name, CHAMPION_ALIAS, broken)
    client = client_for(
        service_settings(mlflow_tracking_uri=registry.tracking_uri, registered_model_name=name)
    )
    ready = client.get("/readyz")
    key = keys_for(client)["score"]
    model = client.get("/v1/model", headers={"Authorization": f"Bearer {key}"})

    assert ready.status_code == 503
    assert ready.json()["model"]["ok"] is False
    assert f"cannot load version {broken} of '{name}'" in ready.json()["reasons"][0]
    assert isinstance(client.app, FastAPI)
    assert client.app.state.holder.current() is None  # nothing half-loaded is kept
    assert model.status_code == 503
    assert f"cannot load version {broken}" in model.json()["detail"]
    assert model.headers["Retry-After"]


def test_an_unreachable_tracking_server_at_start_means_not_ready_quickly(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
) -> None:
    uri = f"http://127.0.0.1:{_closed_port()}"
    started = time.monotonic()
    client = client_for(service_settings(mlflow_tracking_uri=uri))
    seconds = time.monotonic() - started
    body = client.get("/readyz").json()

    assert body["ready"] is False and body["database"]["ok"] is True
    assert "cannot be reached" in body["model"]["last_error"]
    assert uri in body["model"]["last_error"]
    assert seconds < 30, f"the start waited {seconds:.0f} s for an unreachable store"


def test_requests_during_a_failing_reload_see_only_the_whole_old_model(
    registry: Any, register_copy: RegisterCopy, broken_model_uri: str
) -> None:
    name, good = register_copy()
    _, broken = register_copy(broken_model_uri)
    client = registry.client()
    set_alias(client, name, CHAMPION_ALIAS, good)
    holder = ModelHolder(registry.tracking_uri, name, CHAMPION_ALIAS, poll_seconds=0)
    holder.start()
    set_alias(client, name, CHAMPION_ALIAS, broken)
    seen: list[ModelSnapshot | None] = []
    done = threading.Event()

    def requests() -> None:
        while not done.is_set():
            seen.append(holder.current())

    reader = threading.Thread(target=requests)
    reader.start()
    try:
        outcome = holder.reload()
    finally:
        done.set()
        reader.join()

    assert outcome.outcome == "failed" and outcome.serving_version == good
    assert seen, "the reader never ran"
    assert {snapshot.version for snapshot in seen if snapshot is not None} == {good}
    assert None not in seen
    current = holder.current()
    assert current is not None and current.version == good
    prediction = current.model.pyfunc.input_example
    assert current.model.predict_buckets(prediction).notna().all().all()
