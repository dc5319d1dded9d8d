"""Log a ``TrainingResult`` to MLflow as one run, register it, point ``challenger`` at it.

One run: params (model, buckets, grace, snapshots, split), the data fingerprint, date
range and row counts per split, every metric of the model, baselines and oracle (test
period per slice, and per backtest cutoff), plots as PNG, tables as CSV/Markdown, and
the model as a pyfunc. Then a new version of ``settings.registered_model_name`` with
alias ``challenger``. All or nothing: if any step fails after the run started, the run
ends FAILED, a version already registered is deleted and ``challenger`` is put back.

Metric names: ``test.<scorer>.<metric>`` (slice ``all``), ``test.<slice>.<scorer>.<metric>``
(``cold_start``, ``warm``), ``backtest.<data cutoff>.<scorer>.<metric>``.
"""

from __future__ import annotations

import math
import re
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, Protocol

import mlflow
import pandas as pd
from mlflow import MlflowClient

from features.registry import FEATURE_NAMES
from ledger.frames import Ledger
from models.buckets import LateBuckets
from models.pyfunc import feature_code_version, log_pyfunc_model, make_card, payrisk_version
from models.registry import (
    CHALLENGER_ALIAS,
    aliases_of,
    delete_version,
    open_registry,
    register,
    set_alias,
    tracking_uri_set,
)
from training.dataset import (
    TrainingSettings,
    buckets_from,
    build_training_frame,
    data_cutoff_of,
    ledger_date_range,
)
from training.evaluate import evaluate
from training.pipeline import BASELINES, evaluation_config_from, split_config_from
from training.plots import write_plots
from training.split import SplitPlan, plan_split, split_frame

TAG_PREFIX = "payrisk."
# Rows and columns of the headline table: (scorer, label) and (metric, label).
HEADLINE_SCORERS = (
    ("model", "model"),
    ("model_uncalibrated", "model (uncalibrated)"),
    ("aging", "aging"),
    ("historical_late_ratio", "late ratio"),
    ("logistic", "logistic"),
    ("oracle", "oracle"),
)
HEADLINE_METRICS = (
    ("roc_auc_late", "ROC AUC late"),
    ("pr_auc_late", "PR AUC late"),
    ("roc_auc_over_30", "ROC AUC >30"),
    ("brier_late", "Brier late"),
    ("brier_over_30", "Brier >30"),
    ("log_loss", "log loss"),
    ("capture_at_10", "capture@10"),
    ("capture_at_20", "capture@20"),
)


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


def headline_table(metrics: pd.DataFrame, slice_name: str = "all") -> pd.DataFrame:
    """Scorers x headline metrics (NaN where a scorer has no such metric), labeled."""
    rows = metrics.loc[metrics["slice"] == slice_name]
    wide = rows.pivot_table(index="scorer", columns="metric", values="value", dropna=False)
    scorers = [(key, label) for key, label in HEADLINE_SCORERS if key in wide.index]
    table = pd.DataFrame(
        {
            label: [
                wide.at[key, metric] if metric in wide.columns else math.nan for key, _ in scorers
            ]
            for metric, label in HEADLINE_METRICS
        },
        index=pd.Index([label for _, label in scorers], name="scorer"),
    )
    return table


def markdown_table(frame: pd.DataFrame, float_format: str = "{:.4f}") -> str:
    """A GitHub-flavoured Markdown table of ``frame`` (index included when named)."""
    data = frame.reset_index() if frame.index.name else frame
    cells = [
        [
            float_format.format(v)
            if isinstance(v, float) and not math.isnan(v)
            else ("" if isinstance(v, float) else str(v))
            for v in row
        ]
        for row in data.itertuples(index=False)
    ]
    header = [str(column) for column in data.columns]
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(row) + " |" for row in cells]
    return "\n".join(lines) + "\n"


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


def _write_tables(result: Any, folder: Path) -> None:
    """Metrics, backtest, importance, features and split summary as CSV (and Markdown)."""
    folder.mkdir(parents=True, exist_ok=True)
    result.metrics.to_csv(folder / "metrics_test.csv", index=False)
    result.backtest.to_csv(folder / "backtest.csv", index=False)
    result.feature_importance.to_csv(folder / "feature_importance.csv", index=False)
    result.feature_table.to_csv(folder / "features.csv", index=False)
    result.split_summary.to_csv(folder / "split_summary.csv", index=False)
    sections = [
        "# Test period, all rows\n\n" + markdown_table(headline_table(result.metrics)),
        "# Test period, cold start\n\n"
        + markdown_table(headline_table(result.metrics, "cold_start")),
        "# Splits\n\n" + markdown_table(result.split_summary),
        "# Features\n\n" + markdown_table(result.feature_table),
    ]
    if result.warnings:
        sections.append("# Warnings\n\n" + "".join(f"- {text}\n" for text in result.warnings))
    (folder / "report.md").write_text("\n".join(sections), encoding="utf-8")


def ensure_experiment(client: MlflowClient, settings: TrackingSettings) -> str:
    """The id of ``settings.experiment_name``, created on first use.

    For the embedded store (sqlite / file URIs) artifacts go to ``resolved_artifact_root``;
    a tracking server keeps its own artifact store.
    """
    existing = client.get_experiment_by_name(settings.experiment_name)
    if existing is not None:
        return str(existing.experiment_id)
    location = None
    if settings.resolved_tracking_uri.startswith(("sqlite:", "file:")):
        root = Path(settings.resolved_artifact_root).resolve()
        root.mkdir(parents=True, exist_ok=True)
        location = (root / settings.experiment_name).as_uri()
    return str(client.create_experiment(settings.experiment_name, artifact_location=location))


def _log_run_content(result: Any, settings: TrackingSettings, engine: str) -> str:
    """Everything inside the active run; returns the logged model's URI."""
    mlflow.log_params(run_params(result, engine))
    mlflow.log_metrics(flat_test_metrics(result.metrics) | flat_backtest_metrics(result.backtest))
    mlflow.log_metrics({f"duration_seconds.{k}": v for k, v in result.durations_seconds.items()})
    with tempfile.TemporaryDirectory(prefix="payrisk-run-") as folder:
        write_plots(result.curves, result.feature_importance, Path(folder) / "plots")
        _write_tables(result, Path(folder) / "tables")
        mlflow.log_artifacts(folder)
    buckets = LateBuckets(tuple(settings.late_bucket_edges_days), settings.grace_days)
    card = make_card(result.model, buckets, result.input_example)
    info = log_pyfunc_model(
        result.model,
        card,
        result.input_example,
        metadata={"data_fingerprint": result.data_fingerprint},
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
    with tracking_uri_set(tracking_uri):
        run = client.create_run(
            experiment_id,
            tags=_run_tags(result, engine),
            run_name=f"train-{pd.Timestamp(result.data_cutoff):%Y-%m-%d}",
        )
        run_id, version = run.info.run_id, None
        previous_challenger = _current_alias(client, name, CHALLENGER_ALIAS)
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
        except BaseException:
            _undo_registration(client, name, version, previous_challenger)
            client.set_terminated(run_id, "FAILED")
            raise
    return RunInfo(run_id=run_id, model_uri=model_uri, version=version, experiment_id=experiment_id)


def _current_alias(client: MlflowClient, name: str, alias: str) -> str | None:
    """The version under ``alias``, or None (also when the model does not exist yet)."""
    try:
        return aliases_of(client, name).get(alias)
    except Exception:  # no such registered model yet: nothing to restore later
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


def logged_metrics(client: MlflowClient, run_id: str) -> Mapping[str, float]:
    """The metrics of a run (latest value per name)."""
    return dict(client.get_run(run_id).data.metrics)


# -- Re-scoring saved models on the current ledger (the gate, `payrisk evaluate`) ----------


@dataclass(frozen=True)
class EvaluationPeriod:
    """The current ledger's latest out-of-time split, labeled, ready to score."""

    splits: dict[str, pd.DataFrame]
    plan: SplitPlan
    buckets: LateBuckets

    @property
    def description(self) -> str:
        """E.g. ``test as-of 2026-05-01..2026-07-31 (1234 rows)``."""
        first, last = self.plan.bounds("test")
        return f"test as-of {first:%Y-%m-%d}..{last:%Y-%m-%d} ({len(self.splits['test'])} rows)"


def latest_test_period(
    ledger: Ledger, settings: TrainingSettings, *, oracle: pd.DataFrame | None = None
) -> EvaluationPeriod:
    """Build the same split ``train`` would build on this ledger (features point in time)."""
    buckets, config = buckets_from(settings), split_config_from(settings)
    first_date, _ = ledger_date_range(ledger)
    cutoff = data_cutoff_of(ledger, settings)
    plan = plan_split(first_date, cutoff, config)
    frame = build_training_frame(ledger, settings, oracle=oracle, cutoff=cutoff)
    return EvaluationPeriod(split_frame(frame, plan, config, buckets), plan, buckets)


def rescore(
    model: Any,
    period: EvaluationPeriod,
    settings: TrainingSettings,
    *,
    with_baselines: bool = False,
) -> pd.DataFrame:
    """Tidy test metrics (``scorer, slice, metric, value``) of ``model`` on ``period``.

    ``with_baselines`` refits the cheap baselines on the period's training rows.
    No bootstrap intervals: the gate compares point values.
    """
    baselines: dict[str, Any] = {}
    if with_baselines:
        train, validation = (
            period.splits[name].loc[period.splits[name]["bucket_known"]]
            for name in ("train", "validation")
        )
        features, val_features = train[list(FEATURE_NAMES)], validation[list(FEATURE_NAMES)]
        baselines = {
            name: factory(buckets=period.buckets).fit(
                features,
                train["bucket"].to_numpy(dtype="int64"),
                X_val=val_features,
                y_val=validation["bucket"].to_numpy(dtype="int64"),
            )
            for name, factory in BASELINES.items()
        }
    config = replace(evaluation_config_from(settings), bootstrap_rounds=0)
    test = period.splits["test"]
    return evaluate(model, baselines, test, period.buckets, config, with_curves=False).metrics


def model_metrics(metrics: pd.DataFrame, scorer: str = "model") -> dict[str, float]:
    """``{metric: value}`` of one scorer on the slice ``all``."""
    rows = metrics.loc[(metrics["scorer"] == scorer) & (metrics["slice"] == "all")]
    return dict(zip(rows["metric"], rows["value"].astype("float64"), strict=True))
