"""Collection activities as of t: reminders, promises to pay (made and broken), disputes,
last contact. Only activities dated <= t count.

A promise is broken at t when its promised date is before t and the promised amount was
not paid between the day it was made and the promised date (payments to its invoice if it
names one -- or that invoice settled by then -- else any payment of the customer). A
promise without an amount is kept by any payment in that span.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow.compute as pc

from features.asof import AMOUNT_NOISE, NAT_DAY, EventTable, to_days
from features.columns import arrow_strings, float_array
from features.context import Context, require_days
from features.payments import COVER_TOLERANCE_AMOUNT, EffectivePayments

REMINDER_WINDOW_DAYS = 90
DISPUTE_KINDS = ("dispute_opened", "dispute_resolved")


@dataclass(frozen=True)
class ActivityArrays:
    """One entry per activity, in the ledger's order."""

    customer_code: np.ndarray
    invoice_pos: np.ndarray
    day: np.ndarray
    kind: np.ndarray  # str objects
    promised_day: np.ndarray  # NAT_DAY when absent
    promised_amount: np.ndarray  # NaN when absent

    @property
    def dispute_delta(self) -> np.ndarray:
        """+1 for an opened dispute, -1 for a resolved one, else 0."""
        return (self.kind == "dispute_opened").astype(np.float64) - (
            self.kind == "dispute_resolved"
        ).astype(np.float64)


def activity_kinds(activities: pd.DataFrame) -> np.ndarray:
    """Each activity's kind, trimmed and lower-cased (str objects; "" when missing).

    What ``.astype("string").str.strip().str.lower()`` does on Arrow-backed strings,
    called on the Arrow array directly (the pandas wrappers cost more than the work).
    """
    kinds = arrow_strings(activities["kind"])
    normalized = pc.utf8_lower(pc.utf8_trim_whitespace(kinds))
    return np.asarray(pc.fill_null(normalized, "").to_numpy(zero_copy_only=False), dtype=object)


def activity_arrays(context: Context) -> ActivityArrays:
    """The ledger's activities as arrays (dates required, as in the contract)."""
    frame = context.ledger.activities
    return ActivityArrays(
        customer_code=context.table_customer_codes["activities"],
        invoice_pos=context.invoice_positions(frame["invoice_id"]),
        day=require_days("activities", "date", to_days(frame["date"])),
        kind=activity_kinds(frame),
        promised_day=to_days(frame["promised_date"]),
        promised_amount=float_array(frame["promised_amount"]),
    )


def dispute_recording_customers(activities: ActivityArrays) -> np.ndarray:
    """Codes of the customers whose disputes are recorded as activities (the static flag
    is not used for them)."""
    return np.unique(activities.customer_code[np.isin(activities.kind, DISPUTE_KINDS)])


def _broken_promises(
    context: Context, activities: ActivityArrays, payments: EffectivePayments
) -> EventTable:
    """Broken promises as events dated the day after their promised date."""
    promise = np.flatnonzero((activities.kind == "promise") & (activities.promised_day != NAT_DAY))
    made = activities.day[promise]
    promised = np.maximum(activities.promised_day[promise], made)
    invoice = activities.invoice_pos[promise]
    names_invoice = invoice >= 0
    by_customer, by_invoice = payments.by_customer, payments.by_invoice()
    codes = activities.customer_code[promise]
    paid_to_customer = by_customer.total("amount", codes, promised) - by_customer.total(
        "amount", codes, made - 1
    )
    paid_to_invoice = by_invoice.total("amount", invoice, promised) - by_invoice.total(
        "amount", invoice, made - 1
    )
    paid = np.where(names_invoice, paid_to_invoice, paid_to_customer)
    amount = activities.promised_amount[promise]
    kept = np.where(amount > 0, paid + COVER_TOLERANCE_AMOUNT >= amount, paid > AMOUNT_NOISE) | (
        names_invoice & (context.invoices.settle_day[np.maximum(invoice, 0)] <= promised)
    )
    broken = ~kept
    return EventTable(codes[broken], promised[broken] + 1, {"broken": np.ones(int(broken.sum()))})


def activity_features(
    context: Context,
    activities: ActivityArrays,
    payments: EffectivePayments,
    codes: np.ndarray,
    days: np.ndarray,
) -> dict[str, np.ndarray]:
    """Per (customer code, day): reminders, promises, broken promises, disputes, contact."""
    values = {
        "reminder": (activities.kind == "reminder").astype(np.float64),
        "promise": (activities.kind == "promise").astype(np.float64),
        "dispute": activities.dispute_delta,
    }
    table = EventTable(activities.customer_code, activities.day, values)
    broken = _broken_promises(context, activities, payments)
    return {
        "reminders_last_90d": table.window_total("reminder", codes, days, REMINDER_WINDOW_DAYS),
        "promises_count": table.total("promise", codes, days),
        "broken_promises_count": broken.total("broken", codes, days),
        "open_disputes_count": np.maximum(table.total("dispute", codes, days), 0.0),
        "days_since_last_contact": table.days_since_last(codes, days),
    }


def invoice_dispute_open(
    activities: ActivityArrays, invoice_pos: np.ndarray, days: np.ndarray
) -> np.ndarray:
    """Per (invoice position, day): 1.0 if a dispute on that invoice is open at the day."""
    linked = np.flatnonzero(activities.invoice_pos >= 0)
    table = EventTable(
        activities.invoice_pos[linked],
        activities.day[linked],
        {"dispute": activities.dispute_delta[linked]},
    )
    return (table.total("dispute", invoice_pos, days) > 0).astype(np.float64)
