"""Shared fixtures: a throwaway PostgreSQL database per test session, settings in tmp."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from ledger.frames import Ledger
    from payrisk.settings import Settings

POSTGRES_ADMIN_URL = os.environ.get(
    "PAYRISK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)


def _service_missing(what: str, why: object) -> None:
    """Fail under CI (the service must be there), skip on a developer's machine."""
    message = f"{what} is not available: {why}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


@pytest.fixture(scope="session")
def service_missing() -> Callable[[str, object], None]:
    """``service_missing(what, why)``: fail under CI, skip elsewhere (for other fixtures)."""
    return _service_missing


@pytest.fixture(scope="session")
def postgres_server_url() -> str:
    """The admin URL of a reachable PostgreSQL server."""
    import sqlalchemy as sa

    engine = sa.create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
    try:
        with engine.connect() as connection:
            connection.execute(sa.text("select 1"))
    except Exception as error:  # any driver/network error means "not there"
        _service_missing("PostgreSQL at " + POSTGRES_ADMIN_URL, error)
    finally:
        engine.dispose()
    return POSTGRES_ADMIN_URL


@pytest.fixture
def postgres_url(postgres_server_url: str) -> Iterator[str]:
    """A fresh, empty PostgreSQL database for one test; dropped afterwards."""
    import sqlalchemy as sa

    name = f"payrisk_test_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(sa.text(f'create database "{name}"'))
    url = postgres_server_url.rsplit("/", 1)[0] + "/" + name
    try:
        yield url
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'drop database if exists "{name}" with (force)'))
        admin.dispose()


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    """A fresh SQLite database file in the test's temporary folder."""
    return f"sqlite:///{tmp_path / 'payrisk.db'}"


@pytest.fixture(params=["sqlite", "postgresql"])
def database_url(request: pytest.FixtureRequest) -> str:
    """Runs a test once on SQLite and once on a real PostgreSQL database."""
    fixture = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(fixture)
    return url


@pytest.fixture
def payrisk_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Point every PAYRISK_ setting at a temporary folder; returns that folder."""
    data_dir = tmp_path / "payrisk-data"
    monkeypatch.setenv("PAYRISK_DATA_DIR", str(data_dir))
    monkeypatch.delenv("PAYRISK_DATABASE_URL", raising=False)
    monkeypatch.delenv("PAYRISK_MLFLOW_TRACKING_URI", raising=False)
    return data_dir


@dataclass(frozen=True)
class TinyChampion:
    """A tiny model trained on a generated ledger, registered and aliased ``champion``."""

    settings: Settings
    ledger: Ledger
    run_id: str
    version: str
    model_uri: str  # the logged model (models:/m-...), to register more versions of it


def fast_training_settings(data_dir: Path) -> Settings:
    """Settings that train in about two seconds on one thread (tests only)."""
    from payrisk.settings import Settings

    return Settings(
        data_dir=data_dir,
        snapshot_every_days=28,
        model_n_estimators=30,
        model_early_stopping_rounds=10,
        model_min_child_samples=20,
        model_learning_rate=0.2,
        model_n_jobs=1,
        bootstrap_rounds=0,
        backtest_folds=1,
        min_split_rows=20,
    )


@pytest.fixture(scope="session")
def train_tiny_champion() -> Callable[[Path], TinyChampion]:
    """Train, log and register a tiny ``payment-risk`` champion in an MLflow store in a folder."""

    def _train(data_dir: Path) -> TinyChampion:
        from ledger.synthetic import GeneratorConfig, generate_ledger
        from models.registry import CHAMPION_ALIAS, open_registry, set_alias
        from training.pipeline import train
        from training.tracking import log_training_run

        settings = fast_training_settings(data_dir)
        config = GeneratorConfig(customers=60, years=2, seed=3, end=date(2026, 11, 30))
        ledger = generate_ledger(config).ledger
        run = log_training_run(train(ledger, settings), settings)
        client = open_registry(settings.resolved_tracking_uri)
        set_alias(client, settings.registered_model_name, CHAMPION_ALIAS, run.version)
        return TinyChampion(settings, ledger, run.run_id, run.version, run.model_uri)

    return _train
