"""The run's report files: plots as PNG (ROC, calibration, capture, importance), tables.

Input is the long-format plot data of ``training.curves.curves_for`` (a ``scorer``
column, and ``target`` = ``late`` / ``over_30`` for ROC and calibration) and the
importance table of ``training.curves.feature_importance``. Figures are drawn on
matplotlib's Agg canvas directly: no pyplot, no global backend, no display needed.
Tables: the tidy metrics and the rest as CSV, and a Markdown report with the headline
table (scorers x headline metrics), also what `payrisk train` prints.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pandas as pd

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

TARGET_TITLES = {"late": "P(late)", "over_30": "P(> 30 days late)"}
# Drawn last (on top) and thicker: the scorer the plots are about.
HIGHLIGHTED_SCORER = "model"
IMPORTANCE_TOP_N = 25
DPI = 110
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
    ("brier_ordinal", "Brier ordinal"),
    ("brier_multiclass", "Brier buckets"),
    ("log_loss", "log loss"),
    ("capture_at_10", "capture@10"),
    ("capture_at_20", "capture@20"),
)
# The headline metrics that judge the probabilities (lower is better), not the ranking.
PROBABILITY_METRICS = frozenset(
    {"brier_late", "brier_over_30", "brier_ordinal", "brier_multiclass", "log_loss"}
)


def _figure(n_axes: int, width_inches: float = 6.0) -> tuple[Figure, list[Axes]]:
    """A figure with ``n_axes`` side by side on an Agg canvas."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    figure = Figure(figsize=(width_inches * n_axes, 5.0), dpi=DPI, layout="constrained")
    FigureCanvasAgg(figure)
    axes = [figure.add_subplot(1, n_axes, position + 1) for position in range(n_axes)]
    return figure, axes


def _scorers(frame: pd.DataFrame) -> list[str]:
    """Scorers in a stable order, the highlighted one last."""
    names = sorted(set(frame["scorer"].astype(str)) - {HIGHLIGHTED_SCORER})
    return names + ([HIGHLIGHTED_SCORER] if HIGHLIGHTED_SCORER in set(frame["scorer"]) else [])


def _line_width(scorer: str) -> float:
    return 2.5 if scorer == HIGHLIGHTED_SCORER else 1.2


def _legend(axis: Axes, location: Literal["lower right", "upper left"]) -> None:
    """A legend when there is something to name (a target with no curves has none)."""
    if axis.get_legend_handles_labels()[0]:
        axis.legend(loc=location, fontsize="small")


def roc_figure(roc: pd.DataFrame) -> Figure:
    """ROC curves of every scorer, one panel per target (P(late), P(> 30))."""
    figure, axes = _figure(len(TARGET_TITLES))
    for axis, (target, title) in zip(axes, TARGET_TITLES.items(), strict=True):
        rows = roc.loc[roc["target"] == target] if not roc.empty else roc
        for scorer in _scorers(rows) if not rows.empty else []:
            curve = rows.loc[rows["scorer"] == scorer]
            axis.plot(curve["fpr"], curve["tpr"], label=scorer, linewidth=_line_width(scorer))
        axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axis.set(title=f"ROC, {title}", xlabel="false positive rate", ylabel="true positive rate")
        _legend(axis, "lower right")
    return figure


def calibration_figure(calibration: pd.DataFrame) -> Figure:
    """Reliability curves (mean predicted vs observed share per quantile bin)."""
    figure, axes = _figure(len(TARGET_TITLES))
    for axis, (target, title) in zip(axes, TARGET_TITLES.items(), strict=True):
        rows = (
            calibration.loc[calibration["target"] == target]
            if not calibration.empty
            else calibration
        )
        for scorer in _scorers(rows) if not rows.empty else []:
            curve = rows.loc[rows["scorer"] == scorer]
            axis.plot(
                curve["mean_predicted"],
                curve["observed"],
                marker="o",
                markersize=3,
                label=scorer,
                linewidth=_line_width(scorer),
            )
        axis.plot([0, 1], [0, 1], color="grey", linestyle=":", linewidth=1)
        axis.set(title=f"Calibration, {title}", xlabel="mean predicted", ylabel="observed share")
        _legend(axis, "upper left")
    return figure


def capture_figure(capture: pd.DataFrame) -> Figure:
    """Late-amount capture: share of the amount ending > 30 days late in the top k%."""
    figure, (axis,) = _figure(1)
    for scorer in _scorers(capture) if not capture.empty else []:
        curve = capture.loc[capture["scorer"] == scorer]
        axis.plot(
            curve["fraction"] * 100,
            curve["capture"] * 100,
            label=scorer,
            linewidth=_line_width(scorer),
        )
    axis.plot([0, 100], [0, 100], color="grey", linestyle=":", linewidth=1, label="random")
    for k in (10, 20):
        axis.axvline(k, color="lightgrey", linewidth=0.8)
    axis.set(
        title="Late-amount capture (> 30 days late)",
        xlabel="top % of the daily worklist",
        ylabel="% of the late amount captured",
    )
    _legend(axis, "lower right")
    return figure


def importance_figure(importance: pd.DataFrame, top_n: int = IMPORTANCE_TOP_N) -> Figure:
    """Horizontal bars of the top features by share of total gain."""
    top = importance.head(top_n).iloc[::-1]
    figure, (axis,) = _figure(1, width_inches=7.0)
    figure.set_figheight(max(3.0, 0.28 * len(top) + 1.2))
    axis.barh(top["feature"].astype(str), top["gain_share"] * 100, color="tab:blue")
    axis.set(title=f"Feature importance (top {len(top)})", xlabel="% of total gain")
    axis.tick_params(axis="y", labelsize="small")
    return figure


def write_plots(
    curves: Mapping[str, pd.DataFrame], importance: pd.DataFrame, folder: Path
) -> list[Path]:
    """Draw every plot the data allows into ``folder`` as PNG; returns the files written."""
    folder.mkdir(parents=True, exist_ok=True)
    figures = {"feature_importance.png": importance_figure(importance)}
    if "roc" in curves:
        figures["roc.png"] = roc_figure(curves["roc"])
    if "calibration" in curves:
        figures["calibration.png"] = calibration_figure(curves["calibration"])
    if "capture" in curves:
        figures["capture.png"] = capture_figure(curves["capture"])
    written = []
    for file_name, figure in sorted(figures.items()):
        path = folder / file_name
        figure.savefig(path, format="png")
        written.append(path)
    return written


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


def write_tables(result: Any, folder: Path) -> None:
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
