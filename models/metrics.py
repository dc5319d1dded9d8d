"""Evaluation metrics: pure functions on arrays, the same for the model and the baselines.

Binary metrics take a 0/1 target and a probability (or any score for the AUCs); a
target with a single class makes a ranking metric undefined, which is NaN (logged as
a warning), never an exception in the middle of an evaluation. Targets may hold NaN
where a label is not known yet (right-censored rows): those rows are left out of that
metric only.

Late-amount capture at k: order the rows by priority, highest first (ties keep the
input order, so the result is deterministic), take the first ceil(k * n) rows (at least
one when k > 0), and report the share of the total amount that ends up > 30 days late
that lies in them.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable

import numpy as np
import pandas as pd
from sklearn.metrics import average_precision_score, roc_auc_score

from models.buckets import LateBuckets
from models.calibration import cumulative_from_proba

logger = logging.getLogger(__name__)

CAPTURE_FRACTIONS = (0.10, 0.20)


def _known(target: np.ndarray | pd.Series, *scores: np.ndarray | pd.Series) -> list[np.ndarray]:
    """Target and scores as float arrays, restricted to rows whose target is known."""
    target_array = np.asarray(pd.Series(target, dtype="Float64").to_numpy(na_value=np.nan))
    known = ~np.isnan(target_array)
    return [target_array[known]] + [np.asarray(score, dtype="float64")[known] for score in scores]


def _single_class(name: str, target: np.ndarray) -> bool:
    if target.size == 0 or np.unique(target).size < 2:
        logger.warning("%s is undefined: the target has %d rows of one class", name, target.size)
        return True
    return False


def roc_auc(target: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC of a binary target against a score; NaN if the target has one class."""
    known_target, known_score = _known(target, score)
    if _single_class("ROC AUC", known_target):
        return math.nan
    return float(roc_auc_score(known_target, known_score))


def pr_auc(target: np.ndarray, score: np.ndarray) -> float:
    """PR AUC (average precision) of a binary target; NaN if the target has one class."""
    known_target, known_score = _known(target, score)
    if _single_class("PR AUC", known_target):
        return math.nan
    return float(average_precision_score(known_target, known_score))


def brier(target: np.ndarray, proba: np.ndarray) -> float:
    """Mean squared error of a probability against a 0/1 target; NaN for no rows."""
    known_target, known_proba = _known(target, proba)
    if known_target.size == 0:
        return math.nan
    return float(np.mean((known_proba - known_target) ** 2))


def multiclass_log_loss(y_bucket: np.ndarray, proba: np.ndarray, eps: float = 1e-15) -> float:
    """Mean of -log P(true bucket), probabilities clipped to [eps, 1]; NaN for no rows.

    ``y_bucket`` may hold NaN for rows whose bucket is not known; they are skipped.
    """
    labels = np.asarray(pd.Series(y_bucket, dtype="Float64").to_numpy(na_value=np.nan))
    known = ~np.isnan(labels)
    if not known.any():
        return math.nan
    rows = np.asarray(proba, dtype="float64")[known]
    picked = rows[np.arange(rows.shape[0]), labels[known].astype("int64")]
    return float(-np.mean(np.log(np.clip(picked, eps, 1.0))))


def _bucket_labels(y_bucket: np.ndarray | pd.Series) -> np.ndarray:
    """Buckets as a float array, NaN where not known."""
    return np.asarray(pd.Series(y_bucket, dtype="Float64").to_numpy(na_value=np.nan))


def multiclass_brier(y_bucket: np.ndarray, proba: np.ndarray) -> float:
    """Mean over rows with a known bucket of sum_k (p_k - 1[bucket = k])^2; NaN for no rows.

    The classic (Brier 1950) score, between 0 and 2: it ignores the order of the
    buckets (21 days late predicted as 31-60 costs as much as predicted > 90).
    ``y_bucket`` NaN marks a row whose bucket is not known; it is skipped, so this uses
    the rows of ``multiclass_log_loss``.
    """
    labels = _bucket_labels(y_bucket)
    known = ~np.isnan(labels)
    if not known.any():
        return math.nan
    rows = np.asarray(proba, dtype="float64")[known]
    one_hot = np.zeros_like(rows)
    one_hot[np.arange(rows.shape[0]), labels[known].astype("int64")] = 1.0
    return float(np.mean(np.sum((rows - one_hot) ** 2, axis=1)))


def ordinal_brier(
    y_bucket: np.ndarray, proba: np.ndarray, y_exact: np.ndarray | None = None
) -> float:
    """Ranked probability score (Epstein 1969) with right-censored rows; NaN for no rows.

    The Brier score of the cumulative forecast: with K buckets, for each threshold
    k = 1..K-1, S_k = P(bucket >= k) (``cumulative_from_proba``) against the outcome
    o_k = 1[bucket >= k]. ``y_bucket`` is the bucket, or where ``y_exact`` is False
    (right-censored) the lowest bucket the row can still end in; NaN = nothing known;
    ``y_exact=None`` means every bucket given is exact. Threshold k of a row is known
    when its bucket is exact, or when its lowest bucket is >= k (then o_k = 1).

    Score = mean over the rows with at least one known threshold of (the mean over that
    row's known thresholds of (S_k - o_k)^2). For an exact row this is the usual RPS
    normalized by K-1, between 0 and 1; an open invoice 40 days overdue at the cutoff
    (lowest bucket 31-60) is scored on S_1 and S_2 only; one not yet due, on nothing.
    Unlike ``multiclass_brier``, a forecast one bucket off costs less than one three off.
    """
    labels = _bucket_labels(y_bucket)
    exact = np.ones(labels.shape, bool) if y_exact is None else np.asarray(y_exact, bool)
    cumulative = cumulative_from_proba(np.asarray(proba, dtype="float64"))
    thresholds = np.arange(1, cumulative.shape[1] + 1)
    with np.errstate(invalid="ignore"):  # NaN labels compare False: nothing known
        reached = labels[:, None] >= thresholds[None, :]
    known = (exact & ~np.isnan(labels))[:, None] | reached
    n_known = known.sum(axis=1)
    scored = n_known > 0
    if not scored.any():
        return math.nan
    squares = np.where(known, (cumulative - reached) ** 2, 0.0)
    return float(np.mean(squares[scored].sum(axis=1) / n_known[scored]))


def calibration_curve(target: np.ndarray, proba: np.ndarray, n_bins: int = 10) -> pd.DataFrame:
    """Quantile-binned reliability table: ``bin``, ``mean_predicted``, ``observed``, ``count``.

    Bins hold about equal numbers of rows (sorted by probability; equal probabilities
    may straddle a bin edge). Empty input gives an empty table.
    """
    known_target, known_proba = _known(target, proba)
    columns = ["bin", "mean_predicted", "observed", "count"]
    if known_target.size == 0:
        return pd.DataFrame(columns=columns)
    order = np.argsort(known_proba, kind="stable")
    bins = np.minimum(np.arange(order.size) * n_bins // order.size, n_bins - 1)
    frame = pd.DataFrame(
        {"bin": bins, "predicted": known_proba[order], "target": known_target[order]}
    )
    table = frame.groupby("bin").agg(
        mean_predicted=("predicted", "mean"), observed=("target", "mean"), count=("target", "size")
    )
    return table.reset_index()[columns]


def expected_calibration_error(target: np.ndarray, proba: np.ndarray, n_bins: int = 10) -> float:
    """Row-weighted mean |mean predicted - observed| over the quantile bins; NaN for no rows."""
    table = calibration_curve(target, proba, n_bins)
    if table.empty:
        return math.nan
    gaps = (table["mean_predicted"] - table["observed"]).abs()
    return float((gaps * table["count"]).sum() / table["count"].sum())


def _capture_order(priority: np.ndarray) -> np.ndarray:
    """Row positions by priority, highest first; ties keep the input order."""
    return np.argsort(-np.asarray(priority, dtype="float64"), kind="stable")


def late_amount_capture(priority: np.ndarray, amount_over_30: np.ndarray, k: float) -> float:
    """Share of the amount ending > 30 days late found in the top ``k`` (fraction) by priority.

    ``amount_over_30`` is each row's amount if it ends > 30 days late, else 0 (NaN
    counts as 0). NaN when nothing ends > 30 days late. See the module doc for ties.
    """
    amounts = np.nan_to_num(np.asarray(amount_over_30, dtype="float64"))
    total = amounts.sum()
    if amounts.size == 0 or total <= 0:
        logger.warning("late-amount capture is undefined: no amount ends > 30 days late")
        return math.nan
    n_top = max(math.ceil(k * amounts.size - 1e-9), 1 if k > 0 else 0)
    return float(amounts[_capture_order(priority)[:n_top]].sum() / total)


def capture_curve(
    priority: np.ndarray, amount_over_30: np.ndarray, n_points: int = 101
) -> pd.DataFrame:
    """Capture at evenly spaced worklist fractions 0..1: ``fraction``, ``capture``.

    The curve of ``late_amount_capture`` for plots; an all-NaN ``capture`` when nothing
    ends > 30 days late.
    """
    amounts = np.nan_to_num(np.asarray(amount_over_30, dtype="float64"))
    fractions = np.linspace(0.0, 1.0, n_points)
    total = amounts.sum()
    if amounts.size == 0 or total <= 0:
        return pd.DataFrame({"fraction": fractions, "capture": np.nan})
    cumulative = np.concatenate([[0.0], np.cumsum(amounts[_capture_order(priority)])])
    n_top = np.maximum(np.ceil(fractions * amounts.size - 1e-9), np.where(fractions > 0, 1, 0))
    return pd.DataFrame({"fraction": fractions, "capture": cumulative[n_top.astype(int)] / total})


def score_report(
    y_bucket: np.ndarray,
    proba: np.ndarray,
    buckets: LateBuckets,
    priority: np.ndarray,
    open_amount: np.ndarray,
    *,
    y_late: np.ndarray | None = None,
    y_over_30: np.ndarray | None = None,
    y_bucket_floor: np.ndarray | None = None,
) -> dict[str, float]:
    """Every headline metric in one call, with stable names, for the model and baselines.

    ``y_bucket`` is the true bucket (NaN where not known); ``y_late``/``y_over_30``
    (0/1, NaN where unknown) default to what ``y_bucket`` implies, and can be given to
    use rows whose binary outcome is already known although the bucket is not;
    likewise ``y_bucket_floor``, the lowest bucket a row can still end in where its
    bucket is not known, lets ``brier_ordinal`` use the thresholds it already passed.
    Capture uses ``open_amount`` x (ends > 30 days late) over rows with known ``y_over_30``.
    Names: n_rows, share_late, share_over_30, roc_auc_late, pr_auc_late, roc_auc_over_30,
    pr_auc_over_30, brier_late, brier_over_30, brier_ordinal, brier_multiclass, log_loss,
    ece_late, ece_over_30, capture_at_10, capture_at_20.
    """
    proba = buckets.check_proba(proba)
    labels = np.asarray(pd.Series(y_bucket, dtype="Float64").to_numpy(na_value=np.nan))
    over_index = buckets.edge_index(30)
    late = _target_from(labels, y_late, lambda bucket: bucket >= 1)
    over_30 = _target_from(labels, y_over_30, lambda bucket: bucket > over_index)
    p_late, p_over_30 = buckets.p_late(proba), buckets.p_over(proba, 30)
    report = {
        "n_rows": float(labels.size),
        "share_late": float(np.nanmean(late)) if (~np.isnan(late)).any() else math.nan,
        "share_over_30": float(np.nanmean(over_30)) if (~np.isnan(over_30)).any() else math.nan,
        "roc_auc_late": roc_auc(late, p_late),
        "pr_auc_late": pr_auc(late, p_late),
        "roc_auc_over_30": roc_auc(over_30, p_over_30),
        "pr_auc_over_30": pr_auc(over_30, p_over_30),
        "brier_late": brier(late, p_late),
        "brier_over_30": brier(over_30, p_over_30),
        "brier_ordinal": _censored_ordinal_brier(labels, proba, y_bucket_floor),
        "brier_multiclass": multiclass_brier(labels, proba),
        "log_loss": multiclass_log_loss(labels, proba),
        "ece_late": expected_calibration_error(late, p_late),
        "ece_over_30": expected_calibration_error(over_30, p_over_30),
    }
    known_over = ~np.isnan(over_30)
    amount_over_30 = np.nan_to_num(np.asarray(open_amount, dtype="float64")) * over_30
    for fraction in CAPTURE_FRACTIONS:
        report[f"capture_at_{round(fraction * 100)}"] = late_amount_capture(
            np.asarray(priority, dtype="float64")[known_over], amount_over_30[known_over], fraction
        )
    return report


def _censored_ordinal_brier(
    labels: np.ndarray, proba: np.ndarray, floor: np.ndarray | None
) -> float:
    """``ordinal_brier`` with the exact buckets, and ``floor`` where they are unknown."""
    if floor is None:
        return ordinal_brier(labels, proba)
    exact = ~np.isnan(labels)
    lowest = np.where(exact, labels, _bucket_labels(floor))
    return ordinal_brier(lowest, proba, exact)


def _target_from(
    labels: np.ndarray, given: np.ndarray | None, rule: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """A binary target as float (NaN unknown): ``given`` if any, else ``rule(bucket)``."""
    if given is not None:
        return np.asarray(pd.Series(given, dtype="Float64").to_numpy(na_value=np.nan))
    derived = np.where(np.isnan(labels), np.nan, 0.0)
    known = ~np.isnan(labels)
    derived[known] = rule(labels[known]).astype("float64")
    return derived
