"""Plot data of an evaluation (ROC, calibration, capture curves) and the feature importance.

Long-format frames with a ``scorer`` column, drawn by ``training.plots`` and logged with
the run. A ROC curve is thinned to at most ``_ROC_POINTS`` points (the plots need no
more); a target with a single class in the rows has no ROC curve (empty frame).
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd
from sklearn.metrics import roc_curve

from models.metrics import calibration_curve
from training.capture import daily_capture_curve
from training.scorers import TARGETS, Scores, row_targets

_ROC_POINTS = 200


def _roc_points(target: np.ndarray, score: np.ndarray) -> pd.DataFrame:
    """The ROC curve of ``score`` on the rows whose ``target`` is known, thinned."""
    known = ~np.isnan(target)
    if np.unique(target[known]).size < 2:
        return pd.DataFrame(columns=["fpr", "tpr"])
    fpr, tpr, _ = roc_curve(target[known], score[known])
    keep = np.unique(np.linspace(0, fpr.size - 1, min(fpr.size, _ROC_POINTS)).round().astype(int))
    return pd.DataFrame({"fpr": fpr[keep], "tpr": tpr[keep]})


def curves_for(rows: pd.DataFrame, scores: dict[str, Scores]) -> dict[str, pd.DataFrame]:
    """Plot data, long format with a ``scorer`` column: ``roc``, ``calibration``, ``capture``."""
    targets = row_targets(rows)
    parts: dict[str, list[pd.DataFrame]] = {"roc": [], "calibration": [], "capture": []}
    for scorer, scored in scores.items():
        for target in TARGETS:
            score = scored.p_late if target == "late" else scored.p_over_30
            labels = {"scorer": scorer, "target": target}
            parts["roc"].append(_roc_points(targets[target], score).assign(**labels))
            parts["calibration"].append(calibration_curve(targets[target], score).assign(**labels))
        parts["capture"].append(daily_capture_curve(rows, scored.priority).assign(scorer=scorer))
    return {name: pd.concat(frames, ignore_index=True) for name, frames in parts.items()}


def feature_importance(model: Any) -> pd.DataFrame:
    """Total gain per feature, largest first: ``feature, gain, gain_share, splits``."""
    booster = model.booster_
    gain = booster.feature_importance(importance_type="gain", iteration=model.best_iteration_)
    splits = booster.feature_importance(importance_type="split", iteration=model.best_iteration_)
    frame = pd.DataFrame({"feature": booster.feature_name(), "gain": gain, "splits": splits})
    frame["gain_share"] = frame["gain"] / frame["gain"].sum() if frame["gain"].sum() else 0.0
    frame = frame.sort_values(["gain", "feature"], ascending=[False, True], ignore_index=True)
    return frame[["feature", "gain", "gain_share", "splits"]]
