"""The customer's paid history as of t: counts, late ratios, days late (mean, recent, trend,
spread, max) and the on-time streak.

An invoice enters the history on its settle day (``ledger.settlement``), so at t the
history is the customer's invoices settled <= t -- minus the row's own invoice, which is
what is being predicted. Days late = settle day - due day; late means > 0.
"""

from __future__ import annotations

import numpy as np

from features.asof import FAR_DAY, EventTable, range_max, recent_values
from features.context import Context, Points
from features.grouped import group_cummax, group_cumsum

_RECENT_COUNT = 4
_SUMS = ("paid", "late", "amount", "late_amount", "days_late", "days_late_sq")


def _paid_events(context: Context) -> tuple[EventTable, np.ndarray, np.ndarray]:
    """Settle events sorted per customer, their days late, and each invoice's event position."""
    inv = context.invoices
    settled = np.flatnonzero(inv.settle_day < FAR_DAY)
    days_late = (inv.settle_day - inv.due_day)[settled].astype(np.float64)
    late = (days_late > 0).astype(np.float64)
    amount = inv.amount[settled]
    values = {
        "paid": np.ones(len(settled)),
        "late": late,
        "amount": amount,
        "late_amount": amount * late,
        "days_late": days_late,
        "days_late_sq": days_late**2,
    }
    table = EventTable(
        inv.customer_code[settled],
        inv.settle_day[settled],
        values,
        tie_breakers=(inv.issue_day[settled], inv.due_day[settled]),
    )
    event_pos = np.full(len(inv.settle_day), -1, dtype=np.int64)
    event_pos[settled] = table.positions()
    return table, days_late[table.order], event_pos


def _on_time_streaks(table: EventTable, days_late: np.ndarray) -> np.ndarray:
    """Per sorted event: on-time invoices in a row ending at it (0 at a late one)."""
    late = days_late > 0
    group_start = np.zeros(len(late), dtype=bool)
    group_start[table.group_starts] = True
    segment = np.cumsum(late | group_start)
    return group_cumsum((~late).astype(np.float64), segment)


def _streak_without_own(
    streaks: np.ndarray, start: np.ndarray, stop: np.ndarray, own: np.ndarray, own_in: np.ndarray
) -> np.ndarray:
    last = np.maximum(stop - 1, 0)
    streak = np.where(stop > start, streaks[last] if len(streaks) else 0.0, 0.0)
    run_start = stop - 1 - streak  # position of the late invoice that ended the previous run
    in_run = own_in & (own > run_start)
    breaks_run = own_in & (own == run_start)
    before_own = np.maximum(own - 1, 0)
    earlier = np.where(own - 1 >= start, streaks[before_own] if len(streaks) else 0.0, 0.0)
    return np.where(in_run, streak - 1, np.where(breaks_run, streak + earlier, streak))


def _max_without_own(
    table: EventTable,
    days_late: np.ndarray,
    start: np.ndarray,
    stop: np.ndarray,
    own: np.ndarray,
    own_in: np.ndarray,
) -> np.ndarray:
    if len(days_late) == 0:
        return np.full(len(stop), np.nan)
    # Days late are differences of day numbers, whole in float64: an exact integer running max.
    running_max = group_cummax(days_late.astype(np.int64), table.codes).astype(np.float64)
    result = np.where(stop > start, running_max[np.maximum(stop - 1, 0)], np.nan)
    # Only when the own invoice holds the maximum does leaving it out change anything.
    redo = np.flatnonzero(own_in & (days_late[np.maximum(own, 0)] >= result))
    before = np.where(own[redo] > start[redo], running_max[np.maximum(own[redo] - 1, 0)], -np.inf)
    after = range_max(days_late, own[redo] + 1, stop[redo])
    result[redo] = np.maximum(before, after)
    return np.where(np.isfinite(result), result, np.nan)


def history_features(context: Context, points: Points) -> dict[str, np.ndarray]:
    """Per row, the customer's paid history as of the row's day, its own invoice left out."""
    table, days_late, event_pos = _paid_events(context)
    start = table.start(points.customer_code)
    stop = table.upto(points.customer_code, points.day)
    own = event_pos[points.invoice_pos]
    own_in = (own >= start) & (own < stop)
    own_at = np.maximum(own, 0)
    sums = {}
    for name in _SUMS:
        sorted_values = table.values[name]
        own_value = np.where(own_in, sorted_values[own_at] if len(sorted_values) else 0.0, 0.0)
        sums[name] = table.cum_at(name, start, stop) - own_value
    paid = sums["paid"]
    known = paid > 0
    with np.errstate(divide="ignore", invalid="ignore"):
        mean = np.where(known, sums["days_late"] / paid, np.nan)
        variance = (sums["days_late_sq"] - sums["days_late"] ** 2 / paid) / (paid - 1)
        recent = recent_values(days_late, start, stop, np.where(own_in, own, -1), _RECENT_COUNT)
        recent_count = np.sum(~np.isnan(recent), axis=1)
        recent_mean = np.where(recent_count > 0, np.nansum(recent, axis=1) / recent_count, np.nan)
        streak = _on_time_streaks(table, days_late)
        return {
            "paid_invoices_count": paid,
            "late_invoices_count": sums["late"],
            "late_ratio_by_count": np.where(known, sums["late"] / paid, np.nan),
            "late_ratio_by_amount": np.where(known, sums["late_amount"] / sums["amount"], np.nan),
            "mean_days_late": mean,
            "last_days_late": recent[:, 0],
            "mean_days_late_last_4": recent_mean,
            "days_late_trend": recent_mean - mean,
            "std_days_late": np.where(paid >= 2, np.sqrt(np.maximum(variance, 0.0)), np.nan),
            "max_days_late": np.where(
                known, _max_without_own(table, days_late, start, stop, own, own_in), np.nan
            ),
            "on_time_streak": np.where(
                known, _streak_without_own(streak, start, stop, own, own_in), np.nan
            ),
        }
