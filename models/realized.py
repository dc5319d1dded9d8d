"""Realized performance: how the scores the service actually served turned out.

A served score is a row (invoice, as-of date t, P(late), P(> 30), open amount). Its
outcome *matures* with facts dated <= the outcome cutoff (the ledger's last fact): once
the invoice is settled, or once it is open and already past the edge. Same rule as the
training labels (``training.labels``): an invoice still open at the end of the cutoff
day is at least ``cutoff + 1 - due`` days late, so

* ``late`` (days late > grace) is 1 once that bound passes the grace, or known on settling;
* ``over_30`` (days late > 30) is 1 once the bound passes 30, or known on settling;
* otherwise unknown (NaN) and left out of that metric.

Per scoring month (of the as-of date): ROC AUC and Brier of each target, the observed
and mean predicted shares, and late-amount capture at 10% / 20% of the day's worklist for
the model (open amount x P(> 30), the worklist order) next to the aging order (days
overdue x open amount, ``models.baselines.AgingBaseline``). Capture is computed per as-of
day and pooled weighted by the amount ending > 30 days late, as in training's
``capture_at_*_daily``.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.baselines import AgingBaseline
from models.metrics import brier, calibration_curve, late_amount_capture, roc_auc

OVER_DAYS = 30
CAPTURE_FRACTIONS = (0.10, 0.20)
REALIZED_COLUMNS = (
    "month",
    "scored_rows",
    "matured_late",
    "share_late",
    "mean_p_late",
    "roc_auc_late",
    "brier_late",
    "matured_over_30",
    "share_over_30",
    "mean_p_over_30",
    "roc_auc_over_30",
    "brier_over_30",
    "capture_at_10_model",
    "capture_at_10_aging",
    "capture_at_20_model",
    "capture_at_20_aging",
)


def realized_targets(
    due_date: pd.Series, settled_date: pd.Series, cutoff: pd.Timestamp, grace_days: int
) -> pd.DataFrame:
    """``late`` and ``over_30`` (1.0 / 0.0, NaN while unknown) known at ``cutoff``.

    ``settled_date`` after the cutoff counts as open (no peeking past the cutoff).
    """
    settled = settled_date.where(settled_date <= cutoff)
    days_late = (settled - due_date).dt.days.to_numpy(dtype="float64", na_value=np.nan)
    bound = (cutoff + pd.Timedelta(days=1) - due_date).dt.days.to_numpy(dtype="float64")
    is_settled = ~np.isnan(days_late)
    late = np.where(is_settled, days_late > grace_days, np.where(bound > grace_days, 1.0, np.nan))
    over = np.where(is_settled, days_late > OVER_DAYS, np.where(bound > OVER_DAYS, 1.0, np.nan))
    return pd.DataFrame(
        {"late": late.astype("float64"), "over_30": over.astype("float64")},
        index=due_date.index,
    )


def _pooled_capture(rows: pd.DataFrame, priority: str, k: float) -> float:
    """Capture at ``k`` per as-of day, pooled by each day's amount ending > 30 days late."""
    captured = total = 0.0
    for _, day in rows.loc[rows["over_30"].notna()].groupby("as_of", sort=True):
        amount_over = day["open_amount"].to_numpy(dtype="float64") * day["over_30"].to_numpy()
        if amount_over.sum() <= 0:
            continue
        order = day[priority].to_numpy(dtype="float64")
        if priority == "aging_priority":  # a within-day rank, as the baseline defines it
            order = AgingBaseline().priority(day[["days_overdue", "open_amount"]])
        captured += late_amount_capture(order, amount_over, k) * amount_over.sum()
        total += amount_over.sum()
    return captured / total if total > 0 else math.nan


def _share(values: pd.Series) -> float:
    known = values.dropna()
    return float(known.mean()) if len(known) else math.nan


def month_performance(rows: pd.DataFrame) -> dict[str, float]:
    """The realized figures of one group of scored rows (see ``REALIZED_COLUMNS``)."""
    late, over = rows["late"], rows["over_30"]
    figures: dict[str, float] = {
        "scored_rows": float(len(rows)),
        "matured_late": float(late.notna().sum()),
        "share_late": _share(late),
        "mean_p_late": _share(rows["p_late"].where(late.notna())),
        "roc_auc_late": roc_auc(late.to_numpy(), rows["p_late"].to_numpy()),
        "brier_late": brier(late.to_numpy(), rows["p_late"].to_numpy()),
        "matured_over_30": float(over.notna().sum()),
        "share_over_30": _share(over),
        "mean_p_over_30": _share(rows["p_over_30"].where(over.notna())),
        "roc_auc_over_30": roc_auc(over.to_numpy(), rows["p_over_30"].to_numpy()),
        "brier_over_30": brier(over.to_numpy(), rows["p_over_30"].to_numpy()),
    }
    for k in CAPTURE_FRACTIONS:
        percent = round(k * 100)
        figures[f"capture_at_{percent}_model"] = _pooled_capture(rows, "model_priority", k)
        figures[f"capture_at_{percent}_aging"] = _pooled_capture(rows, "aging_priority", k)
    return figures


def with_priorities(rows: pd.DataFrame) -> pd.DataFrame:
    """``rows`` plus ``model_priority`` (open amount x P(> 30)) and ``aging_priority``.

    Needs ``open_amount``, ``p_over_30`` and ``days_overdue``; aging's exact order is a
    within-day rank taken in ``_pooled_capture``, this column is its raw score.
    """
    open_amount = rows["open_amount"].to_numpy(dtype="float64")
    return rows.assign(
        model_priority=open_amount * rows["p_over_30"].to_numpy(dtype="float64"),
        aging_priority=rows["days_overdue"].to_numpy(dtype="float64") * open_amount,
    )


def realized_by_month(rows: pd.DataFrame) -> pd.DataFrame:
    """One line per as-of month (``YYYY-MM``) and a last line ``all``; ``REALIZED_COLUMNS``.

    ``rows``: served scores with ``as_of``, ``p_late``, ``p_over_30``, ``open_amount``,
    ``days_overdue`` and their ``realized_targets``.
    """
    prioritized = with_priorities(rows)
    months = prioritized["as_of"].dt.strftime("%Y-%m")
    lines = [
        {"month": month, **month_performance(group)}
        for month, group in prioritized.groupby(months, sort=True)
    ]
    if lines:
        lines.append({"month": "all", **month_performance(prioritized)})
    return pd.DataFrame(lines, columns=list(REALIZED_COLUMNS))


def realized_calibration(rows: pd.DataFrame, n_bins: int = 10) -> pd.DataFrame:
    """Reliability of P(late) on matured rows: ``target``, ``bin``, ``mean_predicted``,
    ``observed``, ``count`` (quantile bins, ``models.metrics.calibration_curve``)."""
    parts = [
        calibration_curve(rows[target].to_numpy(), rows[score].to_numpy(), n_bins).assign(
            target=target
        )
        for target, score in (("late", "p_late"), ("over_30", "p_over_30"))
    ]
    table = pd.concat(parts, ignore_index=True)
    return table[["target", "bin", "mean_predicted", "observed", "count"]]
