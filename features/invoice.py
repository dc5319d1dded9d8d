"""The invoice's own features as of t: amount (raw, log, vs the customer's usual, still
open), terms, where t falls relative to issue and due, calendar, currency, flags."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.activities import (
    ActivityArrays,
    dispute_recording_customers,
    invoice_dispute_open,
)
from features.asof import EventTable, clean_amount
from features.context import Context, Points
from features.terms import normalize_terms, terms_days

# "Issued at month end": within this many days of the month's last day, so billing runs
# that fall on the last working day still count.
MONTH_END_DAYS = 3


def _customer_median_amount(context: Context, points: Points) -> np.ndarray:
    """Median amount of the customer's invoices issued <= the row's day (its own included)."""
    inv = context.invoices
    issued = EventTable(inv.customer_code, inv.issue_day)
    amounts = pd.Series(inv.amount[issued.order])
    running = amounts.groupby(issued.codes, sort=False).expanding().median()
    # groupby().expanding() returns rows grouped by code; codes are sorted, so order holds.
    running_median = running.to_numpy()
    stop = issued.upto(points.customer_code, points.day)
    return running_median[stop - 1]


def _paid_so_far(context: Context, points: Points) -> np.ndarray:
    """Applied payments to the row's invoice dated <= the row's day."""
    pay = context.payments
    applied = pay.invoice_pos >= 0
    table = EventTable(pay.invoice_pos[applied], pay.day[applied], {"amount": pay.amount[applied]})
    return table.total("amount", points.invoice_pos, points.day)


def _flag(values: pd.Series, positions: np.ndarray) -> np.ndarray:
    return values.astype("Float64").to_numpy(np.float64, na_value=np.nan)[positions]


def _disputed(
    context: Context, activities: ActivityArrays, points: Points, from_activities: bool | None
) -> np.ndarray:
    if from_activities is None:  # per customer: activities for those who record disputes so
        recording = np.isin(points.customer_code, dispute_recording_customers(activities))
        from_flag = _flag(context.ledger.invoices["disputed"], points.invoice_pos)
        from_log = invoice_dispute_open(activities, points.invoice_pos, points.day)
        return np.where(recording, from_log, from_flag)
    if from_activities:
        return invoice_dispute_open(activities, points.invoice_pos, points.day)
    return _flag(context.ledger.invoices["disputed"], points.invoice_pos)


def _calendar(issue_day: np.ndarray) -> dict[str, np.ndarray]:
    issue = issue_day.astype("datetime64[D]")
    month_end = (issue.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    return {
        "issued_month_end": ((month_end - issue).astype(np.int64) < MONTH_END_DAYS).astype(float),
        # 1970-01-01 was a Thursday (weekday 3).
        "issue_weekday": ((issue_day + 3) % 7).astype(np.float64),
    }


def invoice_features(
    context: Context,
    activities: ActivityArrays,
    points: Points,
    disputes_from_activities: bool | None = None,
) -> dict[str, np.ndarray | pd.api.extensions.ExtensionArray]:
    """Per row, the features of its own invoice at the row's day.

    ``disputes_from_activities``: where ``disputed`` comes from -- True: open dispute
    activities at t; False: the invoice's static flag; None: per customer, activities for a
    customer with any dispute activity in the ledger, else the flag (a decision about one
    customer's rows only, so per-customer partitions, a single customer's history sent for
    scoring and the whole ledger all agree).
    """
    inv, frame, pos, day = context.invoices, context.ledger.invoices, points.invoice_pos, points.day
    amount = inv.amount[pos]
    settled = inv.settle_day[pos] <= day
    paid = _paid_so_far(context, points)
    currency = frame["currency"].astype("string").fillna(_customer_currency(context))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "amount": amount,
            "open_amount": np.where(settled, 0.0, clean_amount(np.maximum(amount - paid, 0.0))),
            "log_amount": np.log1p(amount),
            "paid_share": np.where(settled, 1.0, np.clip(paid / amount, 0.0, 1.0)),
            "amount_vs_customer_median": amount / _customer_median_amount(context, points),
            "terms": normalize_terms(frame["terms"]).array.take(pos),
            "terms_days": terms_days(frame["terms"], frame["issue_date"])[pos],
            "days_to_due": (inv.due_day[pos] - day).astype(np.float64),
            "days_overdue": np.maximum(day - inv.due_day[pos], 0).astype(np.float64),
            "days_since_issue": (day - inv.issue_day[pos]).astype(np.float64),
            **{name: values[pos] for name, values in _calendar(inv.issue_day).items()},
            "currency": currency.array.take(pos),
            "disputed": _disputed(context, activities, points, disputes_from_activities),
            "paperless": _flag(frame["paperless"], pos),
        }


def _customer_currency(context: Context) -> pd.Series:
    """The customer's billing currency per invoice (for invoices that name none)."""
    customers = context.ledger.customers.drop_duplicates("customer_id").set_index("customer_id")
    return context.ledger.invoices["customer_id"].map(customers["currency"]).astype("string")
