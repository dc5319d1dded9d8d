"""What each scorer says about the evaluated rows, and what the rows turned out to be.

Scorers: ``model`` (calibrated), ``model_uncalibrated``, each baseline, and ``oracle``
(the generator's true P(late) and P(> 30), present on generated ledgers only; it has no
bucket probabilities). Every scorer scores the very same rows, so ``training.evaluate``
can compare them metric by metric and slice by slice. Targets are floats with NaN where
unknown (right-censored rows, ``training.labels``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from features.registry import FEATURE_NAMES
from models.buckets import LateBuckets

ORACLE = "oracle"
TARGETS = ("late", "over_30")


@dataclass(frozen=True)
class Scores:
    """What one scorer says about each row; ``proba`` (bucket probabilities) may be None."""

    p_late: np.ndarray
    p_over_30: np.ndarray
    priority: np.ndarray
    proba: np.ndarray | None = None


def _from_proba(proba: np.ndarray, priority: np.ndarray, buckets: LateBuckets) -> Scores:
    return Scores(buckets.p_late(proba), buckets.p_over(proba, 30), priority, proba)


def score_rows(
    model: Any, baselines: dict[str, Any], rows: pd.DataFrame, buckets: LateBuckets
) -> dict[str, Scores]:
    """Scores of the model, the uncalibrated model, each baseline and (if present) the oracle."""
    features = rows[list(FEATURE_NAMES)]
    open_amount = np.nan_to_num(rows["open_amount"].to_numpy(dtype="float64", na_value=np.nan))
    scores = {
        "model": _from_proba(model.predict_proba(features), model.priority(features), buckets)
    }
    raw = model.predict_proba_uncalibrated(features)
    scores["model_uncalibrated"] = _from_proba(raw, open_amount * buckets.p_over(raw, 30), buckets)
    for name, baseline in baselines.items():
        scores[name] = _from_proba(
            baseline.predict_proba(features), baseline.priority(features), buckets
        )
    if "p_late_true" in rows.columns and rows["p_late_true"].notna().all():
        p_over = rows["p_over_30_true"].to_numpy(dtype="float64")
        scores[ORACLE] = Scores(
            rows["p_late_true"].to_numpy(dtype="float64"), p_over, open_amount * p_over
        )
    return scores


def row_targets(rows: pd.DataFrame) -> dict[str, np.ndarray]:
    """Binary targets as float arrays, NaN where unknown; and the bucket."""
    return {
        name: rows[name].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
        for name in ("bucket", *TARGETS)
    }


def take_rows(scores: Scores, mask: np.ndarray) -> Scores:
    """The scores of the rows selected by ``mask`` (a slice)."""
    proba = None if scores.proba is None else scores.proba[mask]
    return Scores(scores.p_late[mask], scores.p_over_30[mask], scores.priority[mask], proba)
