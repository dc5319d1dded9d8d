"""What a training run produced (``TrainingResult``), assembled the same way by every engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pandas as pd

from features.registry import FEATURE_NAMES, FEATURES
from models.drift import ReferenceProfile, training_profile
from models.estimator import PaymentRiskModel
from training.configs import model_params_from, split_config_from
from training.dataset import TrainingSettings, buckets_from
from training.evaluate import Evaluation, feature_importance
from training.slices import slice_metrics

INPUT_EXAMPLE_ROWS = 5


@dataclass
class TrainingResult:
    """Everything a training run produced; ``training.tracking`` logs it to MLflow."""

    model: PaymentRiskModel
    baselines: dict[str, Any]
    metrics: pd.DataFrame  # test period: scorer, slice, metric, value
    backtest: pd.DataFrame  # fold, data_cutoff, test_from, test_to, scorer, metric, value
    curves: dict[str, pd.DataFrame]  # roc, calibration, capture (long format)
    feature_importance: pd.DataFrame  # feature, gain, gain_share, splits
    split_summary: pd.DataFrame  # one line per split: as-of range, label cutoff, counts
    data_fingerprint: str  # sha256 of the ledger's content
    date_range: tuple[pd.Timestamp, pd.Timestamp]  # first issue date, last fact date
    data_cutoff: pd.Timestamp
    params: dict[str, Any]
    feature_table: pd.DataFrame  # the feature registry: name, description, unit, ...
    input_example: pd.DataFrame  # a few feature rows of the test period
    warnings: list[str] = field(default_factory=list)
    durations_seconds: dict[str, float] = field(default_factory=dict)
    reference_profile: ReferenceProfile | None = None  # drift reference, logged with the model
    # test period by segment, country, currency, cold start (``training.slices``)
    slices: pd.DataFrame = field(default_factory=pd.DataFrame)


@dataclass(frozen=True)
class DataFacts:
    """What a run knows of its ledger: content fingerprint, date range, data cutoff."""

    fingerprint: str
    date_range: tuple[pd.Timestamp, pd.Timestamp]
    cutoff: pd.Timestamp


def assemble_result(
    model: PaymentRiskModel,
    baselines: dict[str, Any],
    evaluation: Evaluation,
    backtest: tuple[pd.DataFrame, list[str]],
    *,
    train_rows: pd.DataFrame,
    test_rows: pd.DataFrame,
    split_summary: pd.DataFrame,
    settings: TrainingSettings,
    data: DataFacts,
    durations: dict[str, float],
    extra_params: dict[str, Any] | None = None,
) -> TrainingResult:
    """The ``TrainingResult`` of a fitted, evaluated model; every engine ends here."""
    buckets = buckets_from(settings)
    return TrainingResult(
        model=model,
        baselines=baselines,
        metrics=evaluation.metrics,
        backtest=backtest[0],
        curves=evaluation.curves,
        feature_importance=feature_importance(model),
        split_summary=split_summary,
        data_fingerprint=data.fingerprint,
        date_range=data.date_range,
        data_cutoff=data.cutoff,
        params=training_params(settings, model) | (extra_params or {}),
        feature_table=pd.DataFrame([spec.__dict__ for spec in FEATURES]),
        input_example=test_rows[list(FEATURE_NAMES)]
        .head(INPUT_EXAMPLE_ROWS)
        .reset_index(drop=True),
        warnings=evaluation.warnings + backtest[1],
        durations_seconds=durations,
        reference_profile=training_profile(
            model,
            _worklist_rows(train_rows)[list(FEATURE_NAMES)],
            _worklist_rows(test_rows)[list(FEATURE_NAMES)],
            buckets,
        ),
        slices=slice_metrics(model, baselines, test_rows, buckets, settings.cold_start_min_paid),
    )


def _worklist_rows(split: pd.DataFrame) -> pd.DataFrame:
    """The split's grid snapshots: every invoice open on a grid date, like a scoring run's
    rows (issue-date snapshots would over-weight fresh invoices in the drift reference)."""
    grid = split.loc[split["kind"] == "grid"] if "kind" in split.columns else split
    return grid if len(grid) else split


def training_params(settings: TrainingSettings, model: PaymentRiskModel) -> dict[str, Any]:
    return {
        "late_bucket_edges_days": list(settings.late_bucket_edges_days),
        "grace_days": settings.grace_days,
        "snapshot_every_days": settings.snapshot_every_days,
        **{f"split_{k}": v for k, v in split_config_from(settings).__dict__.items()},
        **{f"model_{k}": v for k, v in model_params_from(settings).items()},
        "model_best_iteration": model.best_iteration_,
        "n_features": len(FEATURE_NAMES),
        "backtest_folds": settings.backtest_folds,
        "backtest_step_months": settings.backtest_step_months,
        "cold_start_min_paid": settings.cold_start_min_paid,
        "bootstrap_rounds": settings.bootstrap_rounds,
    }
