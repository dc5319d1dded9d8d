"""The customer's open position at t: open and overdue invoices, amounts, oldest overdue.

Open at t: issued <= t and not settled by t (the row's own invoice included). Overdue at
t: open with due date < t, i.e. from the day after the due date. Open amounts net the
applied payments dated <= t. Each quantity is a running sum of dated deltas:

* issue day: +1 open, +amount;  each applied payment before settling: -payment;
* the day after due (if still open then): +1 overdue, +(amount - payments by due);
  each applied payment after due and before settling: -payment from the overdue amount;
* settle day: everything left of the invoice leaves both sums.
"""

from __future__ import annotations

import numpy as np

from features.asof import FAR_DAY, EventTable, clean_amount
from features.context import Context
from features.grouped import group_cummax

_NAMES = ("open_count", "open_amount", "overdue_count", "overdue_amount")

_Part = tuple[np.ndarray, np.ndarray, dict[str, np.ndarray | float]]


def _invoice_parts(context: Context) -> list[_Part]:
    inv = context.invoices
    settled = np.flatnonzero(inv.settle_day < FAR_DAY)
    goes_overdue = np.flatnonzero(inv.due_day < inv.settle_day)
    settled_late = np.flatnonzero((inv.settle_day < FAR_DAY) & (inv.due_day < inv.settle_day))
    leftover = inv.amount - inv.paid_before_settle
    overdue_amount = inv.amount - inv.paid_by_due
    everything = np.arange(len(inv.amount))
    return [
        (everything, inv.issue_day, {"open_count": 1.0, "open_amount": inv.amount}),
        (settled, inv.settle_day[settled], {"open_count": -1.0, "open_amount": -leftover[settled]}),
        (
            goes_overdue,
            inv.due_day[goes_overdue] + 1,
            {"overdue_count": 1.0, "overdue_amount": overdue_amount[goes_overdue]},
        ),
        (
            settled_late,
            inv.settle_day[settled_late],
            {"overdue_count": -1.0, "overdue_amount": -leftover[settled_late]},
        ),
    ]


def _payment_parts(context: Context) -> list[_Part]:
    inv, pay = context.invoices, context.payments
    applied = np.flatnonzero(pay.invoice_pos >= 0)
    while_open = applied[pay.day[applied] < inv.settle_day[pay.invoice_pos[applied]]]
    open_inv = pay.invoice_pos[while_open]
    while_overdue = while_open[pay.day[while_open] > inv.due_day[open_inv]]
    return [
        (open_inv, pay.day[while_open], {"open_amount": -pay.amount[while_open]}),
        (
            pay.invoice_pos[while_overdue],
            pay.day[while_overdue],
            {"overdue_amount": -pay.amount[while_overdue]},
        ),
    ]


def position_table(context: Context) -> EventTable:
    """Every dated change of a customer's open and overdue counts and amounts."""
    parts = _invoice_parts(context) + _payment_parts(context)
    codes = np.concatenate([context.invoices.customer_code[inv] for inv, _, _ in parts])
    days = np.concatenate([part_days for _, part_days, _ in parts])
    values = {
        name: np.concatenate(
            [np.broadcast_to(deltas.get(name, 0.0), len(inv)) for inv, _, deltas in parts]
        )
        for name in _NAMES
    }
    return EventTable(codes, days, values)


def _max_days_overdue(context: Context, codes: np.ndarray, days: np.ndarray) -> np.ndarray:
    """t - the earliest due date among invoices still open at t, when that is before t."""
    inv = context.invoices
    by_settle = EventTable(inv.customer_code, inv.settle_day)
    due_sorted = inv.due_day[by_settle.order]
    # Earliest due date among a customer's invoices settled at or after each position: a
    # running min from the end, i.e. minus the running max of minus the days (codes negated
    # so that they ascend in the reversed order).
    reversed_min = -group_cummax(-due_sorted[::-1], -by_settle.codes[::-1])
    earliest_due_from = reversed_min[::-1].astype(np.float64)
    first_open = by_settle.upto(codes, days)
    has_open = first_open < by_settle.end(codes)
    earliest_due = np.where(
        has_open, earliest_due_from[np.minimum(first_open, len(due_sorted) - 1)], np.inf
    )
    return np.maximum(days - earliest_due, 0.0)


def position_features(
    context: Context, codes: np.ndarray, days: np.ndarray, credit_limit: np.ndarray
) -> dict[str, np.ndarray]:
    """Per (customer code, day): the open position at that day; ``credit_limit`` per code."""
    table = position_table(context)
    open_amount = clean_amount(table.total("open_amount", codes, days))
    overdue_amount = clean_amount(table.total("overdue_amount", codes, days))
    limit = credit_limit[codes]
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "open_invoices_count": table.total("open_count", codes, days),
            "open_invoices_amount": open_amount,
            "overdue_invoices_count": table.total("overdue_count", codes, days),
            "overdue_invoices_amount": overdue_amount,
            "overdue_share": np.where(open_amount > 0, overdue_amount / open_amount, np.nan),
            "max_days_overdue": _max_days_overdue(context, codes, days),
            "credit_utilization": np.where(limit > 0, open_amount / limit, np.nan),
        }
