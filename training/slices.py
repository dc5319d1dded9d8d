"""Metrics by slice of the test period: segment, country, currency and cold start.

For the model card: how the model does for each group of customers, beside the aging
order on the same rows. One line per (dimension, group, scorer); a group's metric is
NaN when its rows are all of one class (``models.metrics`` says so in its log).
Cold start uses the evaluation's rule (fewer than ``cold_start_min_paid`` paid invoices
at t); the other dimensions are the feature columns of the same names (values at t).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from models.buckets import LateBuckets
from models.metrics import brier, late_amount_capture, roc_auc
from training.evaluate import Scores, score_rows

SLICE_DIMENSIONS = ("segment", "country", "currency")
SLICE_SCORERS = ("model", "aging")
SLICE_COLUMNS = (
    "dimension",
    "group",
    "scorer",
    "n_rows",
    "n_late_known",
    "share_late",
    "roc_auc_late",
    "brier_late",
    "capture_at_10",
)
CAPTURE_FRACTION = 0.10


def _groups(rows: pd.DataFrame, cold_start_min_paid: int) -> dict[str, pd.Series]:
    """dimension -> group label per row (missing values are labeled ``unknown``)."""
    groups = {
        name: rows[name].astype("string").fillna("unknown")
        for name in SLICE_DIMENSIONS
        if name in rows.columns
    }
    cold = rows["paid_invoices_count"].fillna(0) < cold_start_min_paid
    groups["cold_start"] = pd.Series(np.where(cold, "cold start", "warm"), index=rows.index)
    return groups


def _group_metrics(
    late: np.ndarray, over_30_amount: np.ndarray, scores: Scores, mask: np.ndarray
) -> dict[str, float]:
    known = ~np.isnan(late[mask])
    over_known = ~np.isnan(over_30_amount[mask])
    return {
        "n_rows": float(mask.sum()),
        "n_late_known": float(known.sum()),
        "share_late": float(np.nanmean(late[mask])) if known.any() else np.nan,
        "roc_auc_late": roc_auc(late[mask], scores.p_late[mask]),
        "brier_late": brier(late[mask], scores.p_late[mask]),
        "capture_at_10": late_amount_capture(
            scores.priority[mask][over_known], over_30_amount[mask][over_known], CAPTURE_FRACTION
        ),
    }


def slice_metrics(
    model: Any,
    baselines: dict[str, Any],
    rows: pd.DataFrame,
    buckets: LateBuckets,
    cold_start_min_paid: int,
) -> pd.DataFrame:
    """``SLICE_COLUMNS`` for the model and the aging order on labeled test ``rows``."""
    rows = rows.reset_index(drop=True)
    chosen = {name: baselines[name] for name in SLICE_SCORERS if name in baselines}
    scores = score_rows(model, chosen, rows, buckets)
    late = rows["late"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    over_30 = rows["over_30"].astype("Float64").to_numpy(dtype="float64", na_value=np.nan)
    open_amount = np.nan_to_num(rows["open_amount"].to_numpy(dtype="float64", na_value=np.nan))
    over_30_amount = open_amount * over_30  # NaN where the > 30 outcome is unknown
    lines = []
    for dimension, labels in _groups(rows, cold_start_min_paid).items():
        for group in sorted(labels.unique()):
            mask = (labels == group).to_numpy()
            for scorer in SLICE_SCORERS:
                if scorer in scores:
                    values = _group_metrics(late, over_30_amount, scores[scorer], mask)
                    lines.append(
                        {"dimension": dimension, "group": group, "scorer": scorer} | values
                    )
    return pd.DataFrame(lines, columns=list(SLICE_COLUMNS))
