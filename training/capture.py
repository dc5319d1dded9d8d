"""Late-amount capture the way a collector lives it: one worklist per grid date.

On each grid date (a "worklist day", ``training.snapshots``) the worklist is every
invoice open that day whose > 30 days outcome is known; capture at k is computed on that
day's list, and days are pooled weighted by their amount ending > 30 days late (sum of
captured amounts / sum of late amounts), so a day with nothing late adds nothing.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.metrics import capture_curve

DAILY_FRACTIONS = (0.10, 0.20)


def worklist_days(rows: pd.DataFrame) -> pd.Series:
    """Per row, True if it is on a worklist day (a grid date) and its > 30 outcome is known."""
    grid_dates = rows.loc[rows["kind"] == "grid", "as_of"].unique()
    return rows["as_of"].isin(grid_dates) & rows["over_30_known"]


def _daily_groups(rows: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Positions of worklist rows, their day codes, and each row's amount ending > 30 late."""
    positions = np.flatnonzero(worklist_days(rows).to_numpy())
    day_codes = pd.factorize(rows["as_of"].to_numpy()[positions], sort=True)[0]
    over = rows["over_30"].astype("Float64").to_numpy(dtype="float64", na_value=0.0)[positions]
    amount = np.nan_to_num(rows["open_amount"].to_numpy(dtype="float64", na_value=np.nan))
    return positions, day_codes, amount[positions] * over


def daily_capture_curve(
    rows: pd.DataFrame, priority: np.ndarray, n_points: int = 101
) -> pd.DataFrame:
    """Capture curve pooled over worklist days: ``fraction``, ``capture``, ``days``.

    At each fraction k: sum over days of the late amount in that day's top k, divided
    by the late amount of all days (days with no late amount add nothing).
    """
    positions, day_codes, amount_over = _daily_groups(rows)
    captured = np.zeros(n_points)
    total = 0.0
    for day in range(int(day_codes.max()) + 1 if day_codes.size else 0):
        in_day = day_codes == day
        day_total = amount_over[in_day].sum()
        if day_total <= 0:
            continue
        curve = capture_curve(priority[positions][in_day], amount_over[in_day], n_points)
        captured += curve["capture"].to_numpy() * day_total
        total += day_total
    fractions = np.linspace(0.0, 1.0, n_points)
    capture = captured / total if total > 0 else np.full(n_points, np.nan)
    days = int(day_codes.max()) + 1 if day_codes.size else 0
    return pd.DataFrame({"fraction": fractions, "capture": capture, "days": days})


def daily_metrics(rows: pd.DataFrame, priority: np.ndarray) -> dict[str, float]:
    """``capture_at_10_daily``, ``capture_at_20_daily`` (shares 0-1) and ``worklist_days``."""
    curve = daily_capture_curve(rows, priority)
    capture = curve["capture"].to_numpy()
    values = {
        f"capture_at_{round(k * 100)}_daily": float(capture[round(k * (len(capture) - 1))])
        for k in DAILY_FRACTIONS
    }
    return values | {"worklist_days": float(curve["days"].iloc[0])}
