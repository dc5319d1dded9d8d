"""`payrisk monitor` end to end: a ledger whose payment discipline worsens after a date.

One tiny model trained before the shock; the service's own scoring path stores monthly
scores; the monitor must alert on the shifted months and stay ok on the months before.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from ledger.frames import Ledger
from ledger.scores_store import write_scores
from ledger.store import LedgerStore
from ledger.synthetic import GeneratorConfig, generate_ledger
from models.pyfunc import load_payment_risk_model
from models.registry import CHAMPION_ALIAS, open_registry, set_alias
from payrisk.cli import app
from payrisk.settings import Settings
from serving.scoring import score_ledger
from serving.stored_scores import stored_rows
from tests.conftest import fast_training_settings
from training.monitoring.run import MONITOR_EXPERIMENT_SUFFIX
from training.pipeline import train
from training.tracking import log_training_run

SHOCK = date(2026, 4, 1)
TRAIN_CUTOFF = date(2026, 2, 28)
CALM_MONTHS = ("2026-03-15", "2026-03-31")
SHIFTED_MONTHS = ("2026-09-30", "2026-10-31", "2026-11-30")


@dataclass(frozen=True)
class Served:
    settings: Settings
    ledger: Ledger
    version: str


def _score_months(
    settings: Settings, ledger: Ledger, version: str, months: tuple[str, ...]
) -> None:
    """Store the service's scores of every open invoice at each month end, as a refresh does."""
    model = load_payment_risk_model(
        f"models:/{settings.registered_model_name}/{version}",
        tracking_uri=settings.resolved_tracking_uri,
    )
    customers = list(ledger.customers["customer_id"].astype(str))
    with LedgerStore.from_url(settings.resolved_database_url) as store:
        for month in months:
            scored = score_ledger(model, ledger, pd.Timestamp(month), customers, method="path")
            rows = stored_rows(scored, settings.registered_model_name, version)
            write_scores(store, rows, scored_at=pd.Timestamp(month, tz="UTC").to_pydatetime())


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data folder with the ledger in SQLite and a champion trained before the shock."""
    data_dir = tmp_path_factory.mktemp("monitor") / "payrisk-data"
    settings = fast_training_settings(data_dir).model_copy(update={"training_cutoff": TRAIN_CUTOFF})
    config = GeneratorConfig(
        customers=100, years=3, seed=3, end=date(2026, 11, 30), shock_date=SHOCK, shock_strength=2.0
    )
    ledger = generate_ledger(config).ledger
    settings.ensure_data_dir()
    with LedgerStore.from_url(settings.resolved_database_url) as store:
        store.migrate()
        store.upsert(ledger)
    run = log_training_run(train(ledger, settings), settings)
    client = open_registry(settings.resolved_tracking_uri)
    set_alias(client, settings.registered_model_name, CHAMPION_ALIAS, run.version)
    return data_dir


@pytest.fixture
def served(trained: Path, payrisk_env: Path) -> Served:
    """A private copy of the trained folder (its own scores table and MLflow runs)."""
    shutil.copytree(trained, payrisk_env)
    settings = fast_training_settings(payrisk_env)
    with LedgerStore.from_url(settings.resolved_database_url) as store:
        ledger = store.load()
    return Served(settings, ledger, "1")


def _monitor(out: Path, *args: str) -> tuple[int, str]:
    result = CliRunner().invoke(app, ["monitor", "--out", str(out), *args])
    return result.exit_code, result.output


def test_no_scores_yet_is_a_notice_not_an_error(served: Served, tmp_path: Path) -> None:
    code, output = _monitor(tmp_path / "report.html")

    assert code == 0, output
    assert "no scores yet" in output
    assert "status: unknown" in output


def test_alert_on_the_shifted_months(served: Served, tmp_path: Path) -> None:
    _score_months(served.settings, served.ledger, served.version, CALM_MONTHS + SHIFTED_MONTHS)

    code, output = _monitor(tmp_path / "shifted.html", "--since", "2026-09-01")

    assert code == 0, output
    assert "status: alert" in output, output
    assert 'id="status">alert<' in (tmp_path / "shifted.html").read_text()


def test_calm_window_alone_stays_ok(served: Served, tmp_path: Path) -> None:
    _score_months(served.settings, served.ledger, served.version, CALM_MONTHS)

    code, output = _monitor(tmp_path / "calm.html", "--since", "2026-03-01")

    assert code == 0, output
    assert "status: ok" in output, output
    html = (tmp_path / "calm.html").read_text()
    assert 'id="status">ok<' in html
    assert "data:image/png;base64," in html and "<script" not in html and "http" not in html
    client = MlflowClient(served.settings.resolved_tracking_uri)
    experiment = client.get_experiment_by_name(
        served.settings.experiment_name + MONITOR_EXPERIMENT_SUFFIX
    )
    assert experiment is not None
    (run,) = client.search_runs([experiment.experiment_id])
    assert run.data.tags["payrisk.monitor.status"] == "ok"
    assert run.data.metrics["psi.score.p_late"] < 0.1
    assert "realized.all.roc_auc_late" in run.data.metrics
    report = json.loads(
        Path(client.download_artifacts(run.info.run_id, "report.json", str(tmp_path))).read_text()
    )
    assert report["status"] == "ok"


def test_champion_missing_is_a_notice_and_realized_still_reported(
    served: Served, tmp_path: Path
) -> None:
    _score_months(served.settings, served.ledger, served.version, CALM_MONTHS)

    code, output = _monitor(tmp_path / "r.html", "--model-uri", "models:/payment-risk@nobody")

    assert code == 0, output
    assert "no drift figures" in output and "nobody" in output
    assert "realized (all months)" in output
