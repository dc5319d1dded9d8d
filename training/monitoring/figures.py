"""The monitoring report's plots as PNG bytes (matplotlib Agg, no pyplot, no display)."""

from __future__ import annotations

import io
from typing import TYPE_CHECKING

import pandas as pd

from training.plots import DPI, _figure

if TYPE_CHECKING:
    from matplotlib.figure import Figure

STATUS_COLOURS = {"ok": "#2e7d32", "warn": "#f9a825", "alert": "#c62828", "unknown": "#9e9e9e"}
PSI_TOP_N = 15


def png_bytes(figure: Figure) -> bytes:
    """The figure as PNG."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI)
    return buffer.getvalue()


def psi_figure(drift: pd.DataFrame, warn: float, alert: float) -> Figure:
    """Horizontal bars: PSI of the scores and the most drifted features, by status colour."""
    top = pd.concat(
        [drift.loc[drift["kind"] == "score"], drift.loc[drift["kind"] == "feature"].head(PSI_TOP_N)]
    ).iloc[::-1]
    figure, (axis,) = _figure(1, width_inches=7.0)
    axis.barh(
        top["column"].astype(str),
        top["psi"].fillna(0.0),
        color=[STATUS_COLOURS[str(status)] for status in top["status"]],
    )
    for threshold, style in ((warn, ":"), (alert, "--")):
        axis.axvline(threshold, color="black", linestyle=style, linewidth=1)
    axis.set_xlabel("PSI (recent vs reference)")
    axis.set_title("Population stability: scores and top features")
    return figure


def realized_figure(realized: pd.DataFrame) -> Figure:
    """By scoring month: realized ROC AUC, and capture at 10% for the model vs aging."""
    months = realized.loc[realized["month"] != "all"]
    figure, (auc_axis, capture_axis) = _figure(2)
    for column, label in (("roc_auc_late", "P(late)"), ("roc_auc_over_30", "P(> 30)")):
        auc_axis.plot(months["month"], months[column], marker="o", label=label)
    auc_axis.set_title("Realized ROC AUC by scoring month")
    auc_axis.set_ylim(0.4, 1.0)
    auc_axis.legend(loc="lower right", fontsize="small")
    for column, label in (("capture_at_10_model", "model"), ("capture_at_10_aging", "aging")):
        capture_axis.plot(months["month"], months[column], marker="o", label=label)
    capture_axis.set_title("Late-amount capture at 10% of the worklist")
    capture_axis.set_ylim(0.0, 1.0)
    capture_axis.legend(loc="lower right", fontsize="small")
    for axis in (auc_axis, capture_axis):
        axis.tick_params(axis="x", labelrotation=45)
    return figure


def calibration_figure(calibration: pd.DataFrame) -> Figure:
    """Realized reliability: mean predicted vs observed per bin, for both targets."""
    figure, (axis,) = _figure(1)
    for target, label in (("late", "P(late)"), ("over_30", "P(> 30)")):
        rows = calibration.loc[calibration["target"] == target]
        axis.plot(rows["mean_predicted"], rows["observed"], marker="o", label=label)
    axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
    axis.set_xlabel("mean predicted")
    axis.set_ylabel("observed share")
    axis.set_title("Realized calibration (matured outcomes)")
    axis.legend(loc="upper left", fontsize="small")
    return figure
