"""Fixtures for the service: apps on tmp SQLite (or PostgreSQL), keys, a real MLflow store.

``registry`` trains a tiny model once per session with the real pipeline on a small
generated ledger, logs and registers it in a temporary MLflow store and points
``champion`` at it. Tests that move aliases register versions under a model name of
their own (``register_copy``), so the session's ``payment-risk@champion`` never moves.
``scoring`` serves that champion with three ``chosen`` customers of its ledger stored.
"""

from __future__ import annotations

import asyncio
import threading
import uuid
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlparse

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from mlflow import MlflowClient

from ledger.contract import TABLES
from ledger.db_schema import SQL_TABLES
from ledger.frames import Ledger
from models.registry import open_registry, register
from payrisk.settings import Settings
from serving import answer_warmer
from serving.answer_cache import answer_cache_for
from serving.answer_warmer import AnswerWarmer
from serving.app import create_app
from serving.auth import SCOPES, create_key
from serving.routes import scores as score_routes
from serving.scoring import open_invoice_rows

MODEL_NAME = "payment-risk"
AS_OF = "2026-11-30"  # the scoring tests' date: the last day of the session ledger
Result = TypeVar("Result")


def run_on_own_loop(coroutine: Coroutine[Any, Any, Result]) -> Result:
    """``asyncio.run`` in a thread of its own: the browser tests' Playwright (sync API)
    keeps an event loop running in the main thread for the rest of the session."""
    with ThreadPoolExecutor(max_workers=1) as pool:
        return pool.submit(asyncio.run, coroutine).result()


def stored_scores(as_of: str = "2026-03-01", reasons_he: list[Any] | None = None) -> pd.DataFrame:
    """Three stored invoice scores (``ledger.scores_store`` columns) of customers C1-C3.

    ``reasons_he``: the Hebrew reasons stored beside the English ones (default none).
    """
    reasons = {"method": "path", "en": [{"text": "paid late before"}], "he": reasons_he or []}
    return pd.DataFrame(
        {
            "model_name": "payment-risk",
            "model_version": "7",
            "as_of": pd.Timestamp(as_of),
            "invoice_id": ["I1", "I2", "I3"],
            "customer_id": ["C1", "C2", "C3"],
            "open_amount": [8000.0, 1000.0, 2000.0],
            "currency": ["ILS", "USD", "USD"],
            "bucket_probabilities": [{"on_time": 0.5}] * 3,
            "p_late": [0.6, 0.5, 0.4],
            "p_over_30": [0.5, 0.3, 0.1],
            "expected_days_late": [10.0, 8.0, 3.0],
            "predicted_payment_date": pd.Timestamp("2026-03-20"),
            "reasons": [reasons] * 3,
        }
    )


@dataclass(frozen=True)
class Registry:
    """A temporary MLflow store holding ``payment-risk`` v1 as champion."""

    data_dir: Path
    tracking_uri: str
    model_name: str
    version: str
    run_id: str
    model_uri: str  # the logged model (models:/m-...), to register more versions of it
    ledger: Ledger  # the generated ledger the model was trained on

    def client(self) -> MlflowClient:
        return open_registry(self.tracking_uri)


@pytest.fixture(scope="session")
def registry(
    tmp_path_factory: pytest.TempPathFactory,
    train_tiny_champion: Callable[[Path], Any],
) -> Registry:
    """Train, log and register a tiny model once; alias ``champion`` -> version 1."""
    data_dir = tmp_path_factory.mktemp("mlflow")
    tiny = train_tiny_champion(data_dir)
    return Registry(
        data_dir=data_dir,
        tracking_uri=tiny.settings.resolved_tracking_uri,
        model_name=MODEL_NAME,
        version=tiny.version,
        run_id=tiny.run_id,
        model_uri=tiny.model_uri,
        ledger=tiny.ledger,
    )


@pytest.fixture
def register_copy(registry: Registry) -> Callable[[str | None], tuple[str, str]]:
    """Register the session's model as a new version of a fresh (or given) model name.

    Returns (model name, version).
    """
    name = f"holder-test-{uuid.uuid4().hex[:8]}"

    def make(model_uri: str | None = None) -> tuple[str, str]:
        version = register(registry.client(), model_uri or registry.model_uri, name)
        return name, version

    return make


@pytest.fixture(scope="session")
def broken_model_uri(registry: Registry) -> str:
    """A logged model (``models:/m-...``) like the session's, with a corrupt estimator file."""
    import mlflow

    from models.pyfunc import load_payment_risk_model, log_pyfunc_model
    from models.registry import tracking_uri_set

    client = registry.client()
    good = load_payment_risk_model(
        client.get_model_version_download_uri(registry.model_name, registry.version)
    )
    experiment_id = client.get_run(registry.run_id).info.experiment_id
    with tracking_uri_set(registry.tracking_uri), mlflow.start_run(experiment_id=experiment_id):
        info = log_pyfunc_model(good.model, good.card, good.pyfunc.input_example)
    artifacts = Path(urlparse(client.get_logged_model(info.model_id).artifact_location).path)
    [estimator_file] = artifacts.rglob("*.joblib")
    estimator_file.write_bytes(b"this is not a pickle")
    return str(info.model_uri)


SettingsFactory = Callable[..., Settings]


@pytest.fixture
def service_settings(tmp_path: Path) -> SettingsFactory:
    """Service settings on a tmp SQLite file, without a model unless overridden.

    Without overrides the tracking URI points into a folder that does not exist, so the
    service starts at once with no model (and no MLflow store is created).
    """

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "database_url": f"sqlite:///{tmp_path / 'service.db'}",
            "mlflow_tracking_uri": f"sqlite:///{tmp_path / 'no-mlflow' / 'mlflow.db'}",
            "model_poll_seconds": 0,
            "api_key_cache_seconds": 0,
            "score_warm_seconds": 0,  # no background rounds: tests drive the warmer by hand
            "bulk_runner": "thread",  # a child costs ~2 s: tests/serving/test_bulk_runner.py
        }
        return Settings(**(values | overrides))  # type: ignore[arg-type]

    return make


@pytest.fixture
def client_for() -> Iterator[Callable[[Settings], TestClient]]:
    """Start apps (lifespan included) for given settings; all are shut down afterwards."""
    clients: list[TestClient] = []

    def start(settings: Settings) -> TestClient:
        client = TestClient(create_app(settings))
        client.__enter__()
        clients.append(client)
        return client

    yield start
    for client in reversed(clients):
        client.__exit__(None, None, None)


@pytest.fixture
def client(
    service_settings: SettingsFactory, client_for: Callable[[Settings], TestClient]
) -> TestClient:
    """A started app on tmp SQLite without a model."""
    return client_for(service_settings())


def _keys_of(client: TestClient) -> dict[str, str]:
    app = client.app
    assert isinstance(app, FastAPI)
    store = app.state.store
    keys = {scope: create_key(store, f"{scope}-key", [scope]).key for scope in SCOPES}
    keys["all"] = create_key(store, "all-scopes", SCOPES).key
    return keys


@pytest.fixture
def keys_for() -> Callable[[TestClient], dict[str, str]]:
    """Keys for a started app: one per scope (``{"score": "prk_..."}``), and ``"all"``."""
    return _keys_of


@pytest.fixture
def keys(client: TestClient) -> dict[str, str]:
    """Keys for ``client``'s app, one per scope and ``"all"`` with every scope."""
    return _keys_of(client)


# -- scoring: the session champion serving some customers of its ledger ---------------


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def customer_slice(ledger: Ledger, customer_ids: list[str]) -> Ledger:
    """The rows of some customers, in every table."""
    return Ledger(
        **{
            name: frame[frame["customer_id"].isin(customer_ids)].reset_index(drop=True)
            for name, frame in ledger.tables().items()
        }
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON rows: ISO dates, null for missing."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [
        {
            key: value.date().isoformat() if isinstance(value, pd.Timestamp) else value
            for key, value in row.items()
        }
        for row in rows
    ]


@pytest.fixture(scope="module")
def chosen(registry: Any) -> list[str]:
    """Three customers of the session ledger with open invoices, payments and activities."""
    ledger: Ledger = registry.ledger
    open_ids = open_invoice_rows(ledger, pd.Timestamp(AS_OF))["invoice_id"]
    open_counts = ledger.invoices[ledger.invoices["invoice_id"].isin(open_ids)]["customer_id"]
    busy = set(ledger.activities["customer_id"]) & set(ledger.payments["customer_id"])
    ranked = open_counts[open_counts.isin(busy)].value_counts().index.tolist()
    assert len(ranked) >= 3
    return [str(customer_id) for customer_id in ranked[:3]]


@pytest.fixture
def scoring(
    database_url: str,
    registry: Any,
    chosen: list[str],
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app serving the session champion, its ledger holding the chosen customers."""
    settings = service_settings(
        database_url=database_url, mlflow_tracking_uri=registry.tracking_uri
    )
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    client.app.state.store.upsert(customer_slice(registry.ledger, chosen))
    yield client, keys_for(client)


def _backdate(client: TestClient, customer_id: str, when: datetime) -> None:
    """Set ``updated_at`` of the customer's rows to ``when``: its last change was then."""
    store = client.app.state.store  # type: ignore[attr-defined]
    with store.engine.begin() as connection:
        for name in TABLES:
            table = SQL_TABLES[name]
            connection.execute(
                sa.update(table).where(table.c.customer_id == customer_id).values(updated_at=when)
            )


def settle(client: TestClient, customer_ids: list[str], seconds_ago: int = 10) -> None:
    """SQLite only: date the customers' rows back, so their revisions are settled
    (whole-second clock) yet still inside the change window (60 s)."""
    if client.app.state.store.dialect_name != "sqlite":  # type: ignore[attr-defined]
        return  # PostgreSQL: settled as soon as the writer committed
    when = datetime.now(UTC).replace(tzinfo=None) - timedelta(seconds=seconds_ago)
    for customer_id in customer_ids:
        _backdate(client, customer_id, when)


def ask_risk(client: TestClient, key: str, customer_id: str) -> tuple[str, dict[str, Any]]:
    """``GET /v1/customers/{id}/risk`` at ``AS_OF`` (asserted 200): the ``X-Payrisk-Cache``
    header (hit or miss) and the answer."""
    answer = client.get(
        f"/v1/customers/{customer_id}/risk", params={"as_of": AS_OF}, headers=bearer(key)
    )
    assert answer.status_code == 200, answer.text
    return answer.headers["X-Payrisk-Cache"], answer.json()


def hand_driven_warmer(client: TestClient) -> AnswerWarmer:
    """An answer warmer of ``client``'s app whose rounds the test runs one at a time
    (``service_settings`` turns the background rounds off); the route notes its questions
    in it."""
    state = client.app.state  # type: ignore[attr-defined]
    warmer = AnswerWarmer(state.store, state.holder, answer_cache_for(state), state.settings, 1.0)
    state.answer_warmer = warmer
    return warmer


def change_an_invoice(client: TestClient, key: str, customer_id: str) -> None:
    """Re-send one of the customer's invoices with another amount (asserted 200)."""
    stored = client.app.state.store.load().invoices  # type: ignore[attr-defined]
    row = records(stored.loc[stored["customer_id"] == customer_id].head(1))[0]
    body = {name: value for name, value in row.items() if name != "invoice_id"} | {"amount": 7.5}
    put = client.put(f"/v1/invoices/{row['invoice_id']}", json=body, headers=bearer(key))
    assert put.status_code == 200, put.text


@dataclass
class AskedDuringARound:
    cache: str  # the answer's X-Payrisk-Cache header
    answer: dict[str, Any]
    warmed: int  # answers the round computed
    computed_by_questions: int  # scoring calls the questions made themselves


def ask_during_a_round(
    round_client: TestClient,
    warmer: AnswerWarmer,
    asking_client: TestClient,
    question: tuple[str, str],
    noticed: threading.Event,
    monkeypatch: Any,
) -> AskedDuringARound:
    """Run one round of ``warmer`` on ``round_client``'s loop, its scoring held at a gate;
    meanwhile ask ``asking_client`` about a customer (``question``: the key, the customer
    id), and open the gate once ``noticed`` is set (the question found its answer being
    computed)."""
    entered, opened = threading.Event(), threading.Event()
    score, computed = answer_warmer.score_misses, []

    def gated(*args: Any) -> Any:
        entered.set()
        assert opened.wait(timeout=60)
        return score(*args)

    def counted(*args: Any) -> Any:
        computed.append(args)
        return score(*args)

    monkeypatch.setattr(answer_warmer, "score_misses", gated)
    monkeypatch.setattr(score_routes, "score_misses", counted)
    round_done = round_client.portal.start_task_soon(warmer.warm_once)
    assert entered.wait(timeout=60)
    with ThreadPoolExecutor(1) as pool:
        asked = pool.submit(ask_risk, asking_client, *question)
        assert noticed.wait(timeout=60)
        opened.set()
        cache, answer = asked.result(timeout=60)
    return AskedDuringARound(cache, answer, round_done.result(timeout=60), len(computed))
