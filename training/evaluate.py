"""Evaluation on one out-of-time split: the model, the baselines and the oracle, side by side.

Scorers: ``model`` (calibrated), ``model_uncalibrated``, each baseline, and ``oracle``
(the generator's true P(late) and P(> 30); only the metrics that need those two).
Every scorer is judged on the very same rows, per slice: ``all``, ``cold_start``
(customers with fewer than ``cold_start_min_paid`` paid invoices at t) and ``warm``.
Each binary metric uses the rows whose binary target is known (``training.labels``).
The multiclass log loss is also scored on the rows whose bucket has matured
(``log_loss_matured``): the rows with a known bucket lean to invoices paid early.

Brier of the whole bucket distribution, for the scorers with bucket probabilities
(model, uncalibrated model, baselines; not the oracle, which has only P(late) and
P(> 30)): ``brier_multiclass`` (the classic sum over buckets, on the rows with a known
bucket, so like ``log_loss`` it leans to invoices paid early) and ``brier_ordinal``
(the ranked probability score: the mean Brier of P(bucket >= k) over the thresholds k
each row has passed or settled, so right-censored rows count through their
``bucket_floor``; ``models.metrics.ordinal_brier``).

Late-amount capture is reported twice: pooled over every test row (``capture_at_k``,
from ``models.metrics.score_report``) and the way a collector lives it
(``capture_at_k_daily``): on each grid date, the worklist is every invoice open that
day; capture is computed on that day's list and the days are pooled weighted by the
amount ending > 30 days late (sum of captured amounts / sum of late amounts).
Priority: the model's open amount x P(> 30) against the aging order.

Distance to the truth (generated ledgers, beside the oracle): ``truth_mse_late`` and
``truth_mse_over_30`` = mean of (P - true P)^2 over every row of the slice, labeled or
not. The expected Brier is that plus the irreducible mean of p_true (1 - p_true), so it
is the part a scorer could still remove, free of label noise and censoring: on the demo
ledger the realized test late rate sat 2 points below the generator's own probabilities,
which moved the realized Brier by as much as calibration changes it (see
``models.calibration``).

Confidence: row and positive counts sit beside the metrics, ROC AUCs get a 95%
bootstrap interval resampling customers (rows of one customer are not independent),
and a slice with fewer than ``small_sample_rows`` labeled rows yields a warning.

The scores of each scorer are ``training.scorers``; the plot data and the feature
importance are ``training.curves``. Their names are re-exported here.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from models.buckets import LateBuckets
from models.metrics import (
    brier,
    expected_calibration_error,
    late_amount_capture,
    multiclass_log_loss,
    pr_auc,
    roc_auc,
    score_report,
)
from training.capture import DAILY_FRACTIONS, daily_metrics
from training.confidence import bootstrap_auc_interval
from training.curves import curves_for, feature_importance
from training.scorers import ORACLE, TARGETS, Scores, row_targets, score_rows, take_rows

__all__ = [
    "GAP",
    "ORACLE",
    "SLICES",
    "TARGETS",
    "Evaluation",
    "EvaluationConfig",
    "Scores",
    "curves_for",
    "evaluate",
    "feature_importance",
    "metrics_frame",
    "sample_warnings",
    "score_rows",
]

GAP = "gap_oracle_minus_model"
SLICES = ("all", "cold_start", "warm")


@dataclass(frozen=True)
class EvaluationConfig:
    """Knobs of the evaluation (from Settings via the pipeline)."""

    cold_start_min_paid: int = 3
    small_sample_rows: int = 2000
    bootstrap_rounds: int = 200
    seed: int = 42


@dataclass
class Evaluation:
    """The tidy metrics (scorer, slice, metric, value), curves for plots, and warnings."""

    metrics: pd.DataFrame
    curves: dict[str, pd.DataFrame] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)


def _binary_metrics(
    targets: dict[str, np.ndarray], scores: Scores, open_amount: np.ndarray
) -> dict[str, float]:
    """The metrics that need only P(late) and P(> 30) (what the oracle has)."""
    late, over = targets["late"], targets["over_30"]
    known_over = ~np.isnan(over)
    amount_over = open_amount[known_over] * over[known_over]
    return {
        "roc_auc_late": roc_auc(late, scores.p_late),
        "pr_auc_late": pr_auc(late, scores.p_late),
        "roc_auc_over_30": roc_auc(over, scores.p_over_30),
        "pr_auc_over_30": pr_auc(over, scores.p_over_30),
        "brier_late": brier(late, scores.p_late),
        "brier_over_30": brier(over, scores.p_over_30),
        "ece_late": expected_calibration_error(late, scores.p_late),
        "ece_over_30": expected_calibration_error(over, scores.p_over_30),
        **{
            f"capture_at_{round(k * 100)}": late_amount_capture(
                scores.priority[known_over], amount_over, k
            )
            for k in DAILY_FRACTIONS
        },
    }


def _counts(rows: pd.DataFrame, targets: dict[str, np.ndarray]) -> dict[str, float]:
    """How much evidence stands behind the slice's metrics."""
    return {
        "n_rows": float(len(rows)),
        "n_customers": float(rows["customer_id"].nunique()),
        "n_bucket_known": float(np.sum(~np.isnan(targets["bucket"]))),
        "n_late_known": float(np.sum(~np.isnan(targets["late"]))),
        "n_late": float(np.nansum(targets["late"])),
        "n_over_30_known": float(np.sum(~np.isnan(targets["over_30"]))),
        "n_over_30": float(np.nansum(targets["over_30"])),
    }


def _slice_masks(rows: pd.DataFrame, config: EvaluationConfig) -> dict[str, np.ndarray]:
    cold = (rows["paid_invoices_count"].fillna(0) < config.cold_start_min_paid).to_numpy()
    return {"all": np.ones(len(rows), dtype=bool), "cold_start": cold, "warm": ~cold}


def _proba_metrics(
    rows: pd.DataFrame,
    targets: dict[str, np.ndarray],
    proba: np.ndarray,
    priority: np.ndarray,
    buckets: LateBuckets,
) -> dict[str, float]:
    """The metrics of a scorer with bucket probabilities (``score_report`` and more)."""
    open_amount = np.nan_to_num(rows["open_amount"].to_numpy(dtype="float64", na_value=np.nan))
    # split rows have a floor (``training.split``); without one, exact buckets only
    floor = (
        rows["bucket_floor"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        if "bucket_floor" in rows.columns
        else None
    )
    values = score_report(
        targets["bucket"],
        proba,
        buckets,
        priority,
        open_amount,
        y_late=targets["late"],
        y_over_30=targets["over_30"],
        y_bucket_floor=floor,
    )
    if "bucket_matured" in rows.columns:
        # the rows whose bucket is known whatever the outcome (``training.labels``)
        matured = rows["bucket_matured"].to_numpy(dtype=bool)
        values["n_bucket_matured"] = float(matured.sum())
        matured_bucket = np.where(matured, targets["bucket"], np.nan)
        values["log_loss_matured"] = multiclass_log_loss(matured_bucket, proba)
    return values


def _scorer_metrics(
    rows: pd.DataFrame, scores: Scores, buckets: LateBuckets, config: EvaluationConfig
) -> dict[str, float]:
    """Every metric of one scorer on one slice (rows already restricted to the slice)."""
    targets = row_targets(rows)
    open_amount = np.nan_to_num(rows["open_amount"].to_numpy(dtype="float64", na_value=np.nan))
    if scores.proba is not None:
        values = _proba_metrics(rows, targets, scores.proba, scores.priority, buckets)
    else:
        values = _binary_metrics(targets, scores, open_amount)
    values |= _counts(rows, targets)
    customers = rows["customer_id"].to_numpy()
    for target in TARGETS:
        score = scores.p_late if target == "late" else scores.p_over_30
        low, high = bootstrap_auc_interval(
            targets[target], score, customers, config.bootstrap_rounds, config.seed
        )
        values[f"roc_auc_{target}_ci_low"], values[f"roc_auc_{target}_ci_high"] = low, high
    return values


def _truth_distance(scores: Scores, truth: Scores) -> dict[str, float]:
    """Mean squared distance of P(late) and P(> 30) to the oracle's, over every row."""
    return {
        "truth_mse_late": float(np.mean((scores.p_late - truth.p_late) ** 2)),
        "truth_mse_over_30": float(np.mean((scores.p_over_30 - truth.p_over_30) ** 2)),
    }


def metrics_frame(
    rows: pd.DataFrame, scores: dict[str, Scores], buckets: LateBuckets, config: EvaluationConfig
) -> pd.DataFrame:
    """Tidy metrics ``scorer, slice, metric, value`` for every scorer and slice, plus the gap."""
    records = []
    for slice_name, mask in _slice_masks(rows, config).items():
        if not mask.any():
            continue  # an empty slice has no metrics; sample_warnings says so
        sliced = rows.loc[mask].reset_index(drop=True)
        for scorer, scored in scores.items():
            values = _scorer_metrics(sliced, take_rows(scored, mask), buckets, config)
            if ORACLE in scores and scorer != ORACLE:
                values |= _truth_distance(take_rows(scored, mask), take_rows(scores[ORACLE], mask))
            if slice_name == "all":
                values |= daily_metrics(sliced, scored.priority)
            records += [(scorer, slice_name, metric, value) for metric, value in values.items()]
    frame = pd.DataFrame(records, columns=["scorer", "slice", "metric", "value"])
    return pd.concat([frame, _oracle_gap(frame)], ignore_index=True)


def _oracle_gap(frame: pd.DataFrame) -> pd.DataFrame:
    """oracle - model for every metric both have (AUC: > 0 means the oracle ranks better)."""
    wide = frame.pivot_table(
        index=["slice", "metric"], columns="scorer", values="value", dropna=False
    )
    if ORACLE not in wide.columns:
        return pd.DataFrame(columns=frame.columns)
    gap = (wide[ORACLE] - wide["model"]).dropna().rename("value").reset_index()
    gap = gap[~gap["metric"].str.startswith(("n_", "worklist_"))]
    return gap.assign(scorer=GAP)[list(frame.columns)]


def sample_warnings(metrics: pd.DataFrame, config: EvaluationConfig, where: str) -> list[str]:
    """A warning per slice whose labeled rows fall under ``small_sample_rows``."""
    model = metrics[metrics["scorer"] == "model"].set_index(["slice", "metric"])["value"]
    warnings = []
    for slice_name in SLICES:
        count = model.get((slice_name, "n_late_known"), 0.0)
        if count == 0:
            warnings.append(f"{where}, slice {slice_name!r}: no labeled rows, no metrics")
        elif count < config.small_sample_rows:
            auc, low, high = (
                model.get((slice_name, f"roc_auc_late{suffix}"), np.nan)
                for suffix in ("", "_ci_low", "_ci_high")
            )
            warnings.append(
                f"{where}, slice {slice_name!r}: only {int(count)} labeled rows "
                f"(< {config.small_sample_rows}); metrics are rough -- model ROC AUC for "
                f"P(late) {auc:.3f}, 95% interval {low:.3f}-{high:.3f}"
            )
    return warnings


def evaluate(
    model: Any,
    baselines: dict[str, Any],
    rows: pd.DataFrame,
    buckets: LateBuckets,
    config: EvaluationConfig,
    *,
    where: str = "test",
    with_curves: bool = True,
) -> Evaluation:
    """Metrics (and curves) of the model, baselines and oracle on labeled split ``rows``."""
    rows = rows.reset_index(drop=True)
    scores = score_rows(model, baselines, rows, buckets)
    metrics = metrics_frame(rows, scores, buckets, config)
    curves = curves_for(rows, scores) if with_curves else {}
    return Evaluation(metrics, curves, sample_warnings(metrics, config, where))
