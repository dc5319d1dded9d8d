"""The invoice's own features as of t: amount (raw, log, vs the customer's usual, still
open), terms, where t falls relative to issue and due, calendar, currency, flags."""

from __future__ import annotations

import numpy as np
from pandas.api.extensions import ExtensionArray

from features.activities import (
    ActivityArrays,
    dispute_recording_customers,
    invoice_dispute_open,
)
from features.asof import EventTable, clean_amount, from_days
from features.columns import flag_array, string_array
from features.context import Context, Points
from features.customer import CustomerMaster
from features.grouped import prefix_medians
from features.terms import terms_columns

# "Issued at month end": within this many days of the month's last day, so billing runs
# that fall on the last working day still count.
MONTH_END_DAYS = 3


def _customer_median_amount(context: Context, points: Points) -> np.ndarray:
    """Median amount of the customer's invoices issued <= the row's day (its own included)."""
    inv = context.invoices
    issued = context.issued
    stop = issued.upto(points.customer_code, points.day)
    # A row's invoice is issued by its day, so each span [group start, stop) has an invoice.
    return prefix_medians(inv.amount[issued.order], issued.codes, stop)


def _paid_so_far(context: Context, points: Points) -> np.ndarray:
    """Applied payments to the row's invoice dated <= the row's day."""
    pay = context.payments
    applied = pay.invoice_pos >= 0
    table = EventTable(pay.invoice_pos[applied], pay.day[applied], {"amount": pay.amount[applied]})
    return table.total("amount", points.invoice_pos, points.day)


def _disputed(
    context: Context, activities: ActivityArrays, points: Points, from_activities: bool | None
) -> np.ndarray:
    if from_activities is None:  # per customer: activities for those who record disputes so
        recording = np.isin(points.customer_code, dispute_recording_customers(activities))
        if recording.all() or not recording.any():  # one source for every row (one customer)
            return _disputed(context, activities, points, bool(recording.all()))
        from_flag = _disputed(context, activities, points, False)
        return np.where(recording, _disputed(context, activities, points, True), from_flag)
    if from_activities:
        return invoice_dispute_open(activities, points.invoice_pos, points.day)
    return flag_array(context.ledger.invoices["disputed"], points.invoice_pos)


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
    master: CustomerMaster,
    points: Points,
    disputes_from_activities: bool | None = None,
) -> dict[str, np.ndarray | ExtensionArray]:
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
    terms, terms_days = terms_columns(frame["terms"].array.take(pos), from_days(inv.issue_day[pos]))
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "amount": amount,
            "open_amount": np.where(settled, 0.0, clean_amount(np.maximum(amount - paid, 0.0))),
            "log_amount": np.log1p(amount),
            "paid_share": np.where(settled, 1.0, np.clip(paid / amount, 0.0, 1.0)),
            "amount_vs_customer_median": amount / _customer_median_amount(context, points),
            "terms": terms,
            "terms_days": terms_days,
            "days_to_due": (inv.due_day[pos] - day).astype(np.float64),
            "days_overdue": np.maximum(day - inv.due_day[pos], 0).astype(np.float64),
            "days_since_issue": (day - inv.issue_day[pos]).astype(np.float64),
            **_calendar(inv.issue_day[pos]),
            "currency": _currency(context, master, pos),
            "disputed": _disputed(context, activities, points, disputes_from_activities),
            "paperless": flag_array(frame["paperless"], pos),
        }


def _currency(context: Context, master: CustomerMaster, positions: np.ndarray) -> ExtensionArray:
    """The currency of the invoices at ``positions``, else their customer's billing currency."""
    currency = string_array(context.ledger.invoices["currency"]).take(positions)
    missing = np.flatnonzero(np.asarray(currency.isna()))
    codes = context.invoices.customer_code[positions[missing]]
    billed = codes >= 0  # an invoice without a customer id has no billing currency
    if billed.any():
        currency = currency.copy()
        currency[missing[billed]] = master.texts("currency", codes[billed])
    return currency
