"""Log a ``TrainingResult`` to MLflow as one run, register it, point ``challenger`` at it.

One run: params (model, buckets, grace, snapshots, split), the data fingerprint, date
range and row counts per split, every metric of the model, baselines and oracle (test
period per slice, and per backtest cutoff), plots as PNG, tables as CSV/Markdown, and
the model as a pyfunc. Then a new version of ``settings.registered_model_name`` with
alias ``challenger``, and its model card (``training.model_card``). All or nothing: if
any step fails after the run started, the run ends FAILED, a version already registered
is deleted and ``challenger`` is put back.

Metric names: ``test.<scorer>.<metric>`` (slice ``all``), ``test.<slice>.<scorer>.<metric>``
(``cold_start``, ``warm``), ``backtest.<data cutoff>.<scorer>.<metric>``.

Re-scoring saved models on the current ledger (the gate, ``payrisk evaluate``) is
``training.rescore``; its names are re-exported here for the callers that import them
from this module.
"""

from __future__ import annotations

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import mlflow
import pandas as pd
from mlflow import MlflowClient

from models.buckets import LateBuckets
from models.pyfunc import feature_code_version, log_pyfunc_model, make_card, payrisk_version
from models.registry import (
    CHALLENGER_ALIAS,
    ModelNotFoundError,
    aliases_of,
    delete_version,
    open_registry,
    register,
    set_alias,
    tracking_uri_set,
)
from training.model_card import SLICES_FILE, publish_model_card
from training.plots import write_plots, write_tables
from training.rescore import EvaluationPeriod, latest_test_period, model_metrics, rescore

__all__ = [
    "SERVER_SCHEMES",
    "TAG_PREFIX",
    "EvaluationPeriod",
    "RunInfo",
    "TrackingSettings",
    "ensure_experiment",
    "flat_backtest_metrics",
    "flat_test_metrics",
    "latest_test_period",
    "log_training_run",
    "metric_name",
    "model_metrics",
    "rescore",
    "run_params",
]

TAG_PREFIX = "payrisk."
SERVER_SCHEMES = ("http://", "https://", "databricks")


class TrackingSettings(Protocol):
    """What logging reads from ``payrisk.settings.Settings``."""

    experiment_name: str
    registered_model_name: str
    late_bucket_edges_days: list[int]
    grace_days: int

    @property
    def resolved_tracking_uri(self) -> str: ...

    @property
    def resolved_artifact_root(self) -> Path: ...


@dataclass(frozen=True)
class RunInfo:
    """Where a training run went: its MLflow run, logged model and registered version."""

    run_id: str
    model_uri: str
    version: str
    experiment_id: str


def metric_name(*parts: object) -> str:
    """Dot-joined parts, with characters MLflow refuses replaced by ``_``."""
    return ".".join(re.sub(r"[^\w\-. /]", "_", str(part)) for part in parts if str(part))


def flat_test_metrics(metrics: pd.DataFrame) -> dict[str, float]:
    """``{name: value}`` of the tidy test metrics (``scorer, slice, metric, value``)."""
    names = [
        metric_name("test", "" if slice_name == "all" else slice_name, scorer, metric)
        for scorer, slice_name, metric in metrics[["scorer", "slice", "metric"]].itertuples(
            index=False
        )
    ]
    return dict(zip(names, metrics["value"].astype("float64"), strict=True))


def flat_backtest_metrics(backtest: pd.DataFrame) -> dict[str, float]:
    """``{name: value}`` of the backtest (one cutoff per fold), named by cutoff date."""
    cutoffs = pd.to_datetime(backtest["data_cutoff"]).dt.strftime("%Y-%m-%d")
    names = [
        metric_name("backtest", cutoff, scorer, metric)
        for cutoff, scorer, metric in zip(
            cutoffs, backtest["scorer"], backtest["metric"], strict=True
        )
    ]
    return dict(zip(names, backtest["value"].astype("float64"), strict=True))


def run_params(result: Any, engine: str) -> dict[str, str]:
    """Params: the result's params, data fingerprint, dates, and per-split rows and dates."""
    params = {key: str(value) for key, value in result.params.items()}
    first, last = result.date_range
    params |= {
        "engine": engine,
        "data_fingerprint": result.data_fingerprint,
        "data_first_date": f"{pd.Timestamp(first):%Y-%m-%d}",
        "data_last_date": f"{pd.Timestamp(last):%Y-%m-%d}",
        "data_cutoff": f"{pd.Timestamp(result.data_cutoff):%Y-%m-%d}",
        "feature_code_version": feature_code_version(),
    }
    for line in result.split_summary.to_dict("records"):
        split = line["split"]
        params[f"{split}_as_of_from"] = f"{pd.Timestamp(line['as_of_from']):%Y-%m-%d}"
        params[f"{split}_as_of_to"] = f"{pd.Timestamp(line['as_of_to']):%Y-%m-%d}"
        params[f"{split}_label_cutoff"] = f"{pd.Timestamp(line['label_cutoff']):%Y-%m-%d}"
        params[f"{split}_rows"] = str(line["rows"])
        params[f"{split}_rows_labeled"] = str(line["rows_bucket_known"])
    return params


def ensure_experiment(
    client: MlflowClient, settings: TrackingSettings, name: str | None = None
) -> str:
    """The id of experiment ``name`` (default ``settings.experiment_name``), created on first use.

    Stores we write directly (SQLite, PostgreSQL, a folder) keep artifacts under
    ``resolved_artifact_root``; a tracking server (http, databricks) has its own.
    """
    name = name or settings.experiment_name
    existing = client.get_experiment_by_name(name)
    if existing is not None:
        if existing.lifecycle_stage == "deleted":  # deleted in the UI: its name is taken
            client.restore_experiment(existing.experiment_id)
        return str(existing.experiment_id)
    location = None
    if not settings.resolved_tracking_uri.startswith(SERVER_SCHEMES):
        root = Path(settings.resolved_artifact_root).resolve()
        root.mkdir(parents=True, exist_ok=True)
        location = (root / name).as_uri()
    return str(client.create_experiment(name, artifact_location=location))


def _log_run_content(result: Any, settings: TrackingSettings, engine: str) -> str:
    """Everything inside the active run; returns the logged model's URI."""
    mlflow.log_params(run_params(result, engine))
    mlflow.log_metrics(flat_test_metrics(result.metrics) | flat_backtest_metrics(result.backtest))
    mlflow.log_metrics({f"duration_seconds.{k}": v for k, v in result.durations_seconds.items()})
    with tempfile.TemporaryDirectory(prefix="payrisk-run-") as folder:
        write_plots(result.curves, result.feature_importance, Path(folder) / "plots")
        write_tables(result, Path(folder) / "tables")
        if not getattr(result, "slices", pd.DataFrame()).empty:
            result.slices.to_csv(Path(folder) / "tables" / SLICES_FILE, index=False)
        mlflow.log_artifacts(folder)
    buckets = LateBuckets(tuple(settings.late_bucket_edges_days), settings.grace_days)
    card = make_card(result.model, buckets, result.input_example)
    info = log_pyfunc_model(
        result.model,
        card,
        result.input_example,
        metadata={"data_fingerprint": result.data_fingerprint},
        reference=getattr(result, "reference_profile", None),
    )
    return str(info.model_uri)


def _run_tags(result: Any, engine: str) -> dict[str, str]:
    return {
        TAG_PREFIX + "data_fingerprint": result.data_fingerprint,
        TAG_PREFIX + "feature_code_version": feature_code_version(),
        TAG_PREFIX + "version": payrisk_version(),
        TAG_PREFIX + "engine": engine,
        TAG_PREFIX + "warnings": str(len(result.warnings)),
    }


def log_training_run(result: Any, settings: TrackingSettings, *, engine: str = "pandas") -> RunInfo:
    """Log ``result`` as one MLflow run, register it and set alias ``challenger`` on it.

    Raises ``TrackingStoreUnreachableError`` before anything is written when the store
    cannot be reached; re-raises any later failure after undoing the registration.
    """
    tracking_uri = settings.resolved_tracking_uri
    client = open_registry(tracking_uri)
    experiment_id = ensure_experiment(client, settings)
    name = settings.registered_model_name
    client.set_experiment_tag(
        experiment_id, TAG_PREFIX + "data_fingerprint", result.data_fingerprint
    )
    previous_challenger = _current_alias(client, name, CHALLENGER_ALIAS)
    with tracking_uri_set(tracking_uri):
        run = client.create_run(
            experiment_id,
            tags=_run_tags(result, engine),
            run_name=f"train-{pd.Timestamp(result.data_cutoff):%Y-%m-%d}",
        )
        run_id = run.info.run_id
        version: str | None = None
        try:
            with mlflow.start_run(run_id=run_id):
                model_uri = _log_run_content(result, settings, engine)
                version = register(
                    client,
                    model_uri,
                    name,
                    run_id=run_id,
                    tags={TAG_PREFIX + "data_fingerprint": result.data_fingerprint},
                )
                set_alias(client, name, CHALLENGER_ALIAS, version)
                mlflow.set_tag(TAG_PREFIX + "model_version", version)
                publish_model_card(client, settings, version)
        except BaseException:
            _undo_registration(client, name, version, previous_challenger)
            client.set_terminated(run_id, "FAILED")
            raise
    return RunInfo(run_id=run_id, model_uri=model_uri, version=version, experiment_id=experiment_id)


def _current_alias(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version under ``alias``, or None (also when the model does not exist yet)."""
    try:
        return aliases_of(client, name).get(alias)
    except ModelNotFoundError:  # first training: nothing to restore later
        return None


def _undo_registration(
    client: MlflowClient, name: str, version: str | None, previous_challenger: str | None
) -> None:
    """Delete a half-done version and give ``challenger`` back to its previous holder."""
    if version is None:
        return
    delete_version(client, name, version)
    if previous_challenger is not None:
        client.set_registered_model_alias(name, CHALLENGER_ALIAS, previous_challenger)
