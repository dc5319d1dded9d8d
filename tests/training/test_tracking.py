"""Logging a TrainingResult to MLflow: names, content, registration, all-or-nothing."""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from models.estimator import PaymentRiskModel
from models.registry import TrackingStoreUnreachableError, aliases_of, open_registry
from payrisk.settings import Settings
from training import tracking
from training.plots import headline_table, markdown_table
from training.result import TrainingResult
from training.tracking import flat_backtest_metrics, flat_test_metrics, log_training_run


def _frame(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(seed)
    overdue = rng.integers(-30, 60, n_rows).astype("float64")
    currency = pd.array(rng.choice(["USD", "ILS"], n_rows), dtype="string")
    buckets = np.digitize(overdue / 30 + rng.normal(0, 0.5, n_rows), [0.2, 1.0, 1.5, 1.8])
    return pd.DataFrame({"days_overdue": overdue, "currency": currency}), buckets


@pytest.fixture(scope="module")
def result() -> TrainingResult:
    """A hand-made result around a tiny real model: every field ``log_training_run`` reads."""
    train_x, train_y = _frame(300, 1)
    valid_x, valid_y = _frame(150, 2)
    model = PaymentRiskModel(
        n_estimators=20, min_child_samples=5, early_stopping_rounds=5, n_jobs=1
    )
    model.fit(train_x, train_y, X_val=valid_x, y_val=valid_y)
    metrics = pd.DataFrame(
        [
            ("model", "all", "roc_auc_late", 0.81),
            ("aging", "all", "roc_auc_late", 0.62),
            ("aging", "all", "capture_at_20", 0.5),
            ("model", "cold_start", "roc_auc_late", 0.7),
            ("oracle", "all", "roc_auc_late", 0.86),
        ],
        columns=["scorer", "slice", "metric", "value"],
    )
    backtest = pd.DataFrame(
        {
            "fold": [0, 1],
            "data_cutoff": pd.to_datetime(["2026-11-30", "2026-08-31"]),
            "test_from": pd.to_datetime(["2026-06-01", "2026-03-01"]),
            "test_to": pd.to_datetime(["2026-09-01", "2026-06-01"]),
            "scorer": ["model", "model"],
            "metric": ["roc_auc_late", "roc_auc_late"],
            "value": [0.81, 0.79],
        }
    )
    dates = pd.to_datetime(["2025-01-01", "2025-06-01", "2025-08-01", "2025-10-01"])
    split_summary = pd.DataFrame(
        {
            "split": ["train", "validation", "test"],
            "as_of_from": dates[:3],
            "as_of_to": dates[1:],
            "label_cutoff": dates[1:],
            "rows": [300, 150, 100],
            "rows_bucket_known": [290, 140, 90],
            "late_share": [0.5, 0.5, 0.6],
        }
    )
    roc = pd.DataFrame(
        {"fpr": [0, 1], "tpr": [0, 1], "scorer": "model", "target": ["late", "late"]}
    )
    capture = pd.DataFrame({"fraction": [0, 1], "capture": [0, 1], "scorer": "model"})
    calibration = pd.DataFrame(
        {"mean_predicted": [0.2], "observed": [0.3], "scorer": "model", "target": "late"}
    )
    importance = pd.DataFrame(
        {"feature": ["days_overdue", "currency"], "gain": [3.0, 1.0], "gain_share": [0.75, 0.25]}
    )
    return TrainingResult(
        model=model,
        baselines={},
        metrics=metrics,
        backtest=backtest,
        curves={"roc": roc, "calibration": calibration, "capture": capture},
        feature_importance=importance,
        split_summary=split_summary,
        data_fingerprint="f" * 64,
        date_range=(pd.Timestamp("2024-12-01"), pd.Timestamp("2026-11-30")),
        data_cutoff=pd.Timestamp("2026-11-30"),
        params={"model_n_estimators": 20, "late_bucket_edges_days": [0, 30, 60, 90]},
        feature_table=pd.DataFrame({"name": ["days_overdue"], "unit": ["days"]}),
        input_example=valid_x.head(3),
        warnings=["only 3 rows"],
        durations_seconds={"fit": 1.5},
    )


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One MLflow store for the module (creating one costs seconds)."""
    return tmp_path_factory.mktemp("payrisk-data")


@pytest.fixture
def settings(data_dir: Path, request: pytest.FixtureRequest) -> Settings:
    """Settings on the shared store, with this test's own experiment and model name."""
    test_name = request.node.name.replace("_", "-")
    return Settings(data_dir=data_dir, experiment_name=test_name, registered_model_name=test_name)


def test_metric_names_follow_slice_and_cutoff(result: TrainingResult) -> None:
    assert flat_test_metrics(result.metrics) == {
        "test.model.roc_auc_late": 0.81,
        "test.aging.roc_auc_late": 0.62,
        "test.aging.capture_at_20": 0.5,
        "test.cold_start.model.roc_auc_late": 0.7,
        "test.oracle.roc_auc_late": 0.86,
    }
    assert flat_backtest_metrics(result.backtest) == {
        "backtest.2026-11-30.model.roc_auc_late": 0.81,
        "backtest.2026-08-31.model.roc_auc_late": 0.79,
    }


def test_headline_table_rows_and_missing_values(result: TrainingResult) -> None:
    table = headline_table(result.metrics)
    assert list(table.index) == ["model", "aging", "oracle"]
    assert table.loc["aging", "ROC AUC late"] == 0.62
    assert table.loc["aging", "capture@20"] == 0.5
    assert math.isnan(table.loc["model", "capture@20"])
    text = markdown_table(table)
    assert text.splitlines()[0].startswith("| scorer | ROC AUC late |")
    assert "| aging | 0.6200 |" in text


def test_a_run_is_logged_registered_and_challenger(
    result: TrainingResult, settings: Settings
) -> None:
    run = log_training_run(result, settings)
    client = open_registry(settings.resolved_tracking_uri)
    logged = client.get_run(run.run_id)
    assert logged.info.status == "FINISHED"
    assert logged.data.metrics["test.cold_start.model.roc_auc_late"] == 0.7
    assert logged.data.metrics["backtest.2026-08-31.model.roc_auc_late"] == 0.79
    params = logged.data.params
    assert params["data_fingerprint"] == "f" * 64
    assert params["test_rows"] == "100"
    assert params["validation_as_of_from"] == "2025-06-01"
    assert params["late_bucket_edges_days"] == "[0, 30, 60, 90]"
    assert logged.data.tags["payrisk.data_fingerprint"] == "f" * 64
    files = {item.path for folder in ("plots", "tables")
             for item in client.list_artifacts(run.run_id, folder)}  # fmt: skip
    assert {"plots/roc.png", "plots/capture.png", "plots/feature_importance.png"} <= files
    assert {"tables/metrics_test.csv", "tables/features.csv", "tables/report.md"} <= files
    assert run.version == "1"
    assert aliases_of(client, settings.registered_model_name) == {"challenger": "1"}
    experiment = client.get_experiment(run.experiment_id)
    assert experiment.name == settings.experiment_name
    assert experiment.artifact_location.startswith((settings.data_dir / "mlartifacts").as_uri())


def test_a_failure_after_registration_leaves_no_version(
    result: TrainingResult, settings: Settings, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = log_training_run(result, settings)

    def broken_alias(*_: object) -> None:
        raise RuntimeError("injected: the registry went away")

    monkeypatch.setattr(tracking, "set_alias", broken_alias)
    with pytest.raises(RuntimeError, match="injected"):
        log_training_run(result, settings)
    client = open_registry(settings.resolved_tracking_uri)
    versions = client.search_model_versions(f"name='{settings.registered_model_name}'")
    assert [str(version.version) for version in versions] == [first.version]
    assert aliases_of(client, settings.registered_model_name) == {"challenger": first.version}
    statuses = sorted(run.info.status for run in client.search_runs([first.experiment_id]))
    assert statuses == ["FAILED", "FINISHED"]


def test_an_unreachable_store_fails_before_any_run(result: TrainingResult, tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path, mlflow_tracking_uri=f"sqlite:///{tmp_path / 'gone' / 'mlflow.db'}"
    )
    with pytest.raises(TrackingStoreUnreachableError, match="does not exist"):
        log_training_run(result, settings)
    assert not (tmp_path / "gone").exists()


@pytest.mark.postgres
def test_a_postgresql_tracking_store_works_the_same(
    result: TrainingResult, postgres_url: str, tmp_path: Path
) -> None:
    """Production keeps MLflow in PostgreSQL: same code, another URI."""
    settings = Settings(
        data_dir=tmp_path,
        mlflow_tracking_uri=postgres_url,
        mlflow_artifact_root=tmp_path / "artifacts",
    )
    run = log_training_run(result, settings)
    client = open_registry(postgres_url)
    assert client.get_run(run.run_id).info.status == "FINISHED"
    assert aliases_of(client, settings.registered_model_name) == {"challenger": run.version}
    location = client.get_experiment(run.experiment_id).artifact_location
    assert location.startswith((tmp_path / "artifacts").as_uri())
