"""Collection activities: dunning reminders, calls, promises to pay, disputes, notes.

Reminders follow a simple dunning rule (``params.DUNNING_DAYS_OVERDUE``); a reminder or
call is sometimes answered by a promise to pay. An honest promise names the day the
customer really pays; the others name a hopeful day and are often broken. Texts are in
Hebrew for Hebrew-speaking customers.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledger.synthetic import names
from ledger.synthetic import params as p
from ledger.synthetic.behaviour import Behaviour
from ledger.synthetic.config import NO_DAY
from ledger.synthetic.customers import CustomerDraw
from ledger.synthetic.invoices import InvoiceDraw
from ledger.synthetic.lateness import Outcomes
from ledger.synthetic.payments import PaymentDraw

KIND_ORDER = ("dispute_opened", "reminder", "call", "promise", "dispute_resolved", "note")
_TEXTS = {  # kind -> (English, Hebrew)
    "call": ("Called about the overdue invoice", "שיחה בנוגע לחשבונית בפיגור"),
    "promise": ("Promised to pay", "הלקוח הבטיח לשלם"),
    "dispute_resolved": ("Dispute resolved", "המחלוקת נפתרה"),
}


_FIELDS = ("invoice", "day", "kind", "promised_day", "promised_amount", "text")


@dataclass(frozen=True)
class ActivityDraw:
    """One chunk's activities dated up to the end; arrays aligned by position, unsorted."""

    invoice: np.ndarray  # every generated activity concerns one invoice
    day: np.ndarray
    kind: np.ndarray  # index into KIND_ORDER
    promised_day: np.ndarray  # NO_DAY unless a promise
    promised_amount: np.ndarray  # NaN unless a promise
    text: np.ndarray  # object (str)


def draw_activities(
    rng: np.random.Generator,
    invoices: InvoiceDraw,
    outcomes: Outcomes,
    customers: CustomerDraw,
    behaviour: Behaviour,
    payments: PaymentDraw,
    end_day: int,
) -> ActivityDraw:
    """Every activity of the chunk's invoices dated on or before ``end_day``."""
    hebrew = customers.country[invoices.customer] == p.COUNTRIES.index("IL")
    parts = [
        _disputes(rng, invoices, outcomes, hebrew),
        _dunning(rng, invoices, outcomes, customers, hebrew),
        _notes(rng, invoices, hebrew),
    ]
    contacts = parts[1]
    parts.append(_promises(rng, invoices, outcomes, behaviour, payments, contacts, hebrew))
    merged = _concat(*parts)
    keep = merged.day <= end_day
    return ActivityDraw(*(getattr(merged, name)[keep] for name in _FIELDS))


def _plain(invoice: np.ndarray, day: np.ndarray, kind: str, text: np.ndarray) -> ActivityDraw:
    return ActivityDraw(
        invoice=invoice,
        day=day,
        kind=np.full(len(invoice), KIND_ORDER.index(kind)),
        promised_day=np.full(len(invoice), NO_DAY),
        promised_amount=np.full(len(invoice), np.nan),
        text=text,
    )


def _text(kind: str, hebrew: np.ndarray) -> np.ndarray:
    english, local = _TEXTS[kind]
    return np.where(hebrew, local, english).astype(object)


def _disputes(
    rng: np.random.Generator, invoices: InvoiceDraw, outcomes: Outcomes, hebrew: np.ndarray
) -> ActivityDraw:
    opened = np.flatnonzero(outcomes.dispute_open_day != NO_DAY)
    reason = rng.integers(0, len(names.DISPUTE_REASONS_EN), len(opened))
    english = "Dispute: " + np.asarray(names.DISPUTE_REASONS_EN, dtype=object)[reason]
    local = "מחלוקת: " + np.asarray(names.DISPUTE_REASONS_HE, dtype=object)[reason]
    opened_text = np.where(hebrew[opened], local, english)
    opened_part = _plain(opened, outcomes.dispute_open_day[opened], "dispute_opened", opened_text)
    # resolved shortly before the payment that follows it; never resolved if never paid
    settle = outcomes.settle_day[opened]
    low, high = p.DISPUTE_RESOLVED_BEFORE_PAYMENT_DAYS
    resolved_day = np.maximum(
        outcomes.dispute_open_day[opened], settle - rng.integers(low, high + 1, len(opened))
    )
    resolved_text = _text("dispute_resolved", hebrew[opened])
    resolved_part = _plain(opened, resolved_day, "dispute_resolved", resolved_text)
    return _concat(opened_part, resolved_part)


def _dunning(
    rng: np.random.Generator,
    invoices: InvoiceDraw,
    outcomes: Outcomes,
    customers: CustomerDraw,
    hebrew: np.ndarray,
) -> ActivityDraw:
    """Reminders at fixed days overdue while unpaid; calls for larger customers."""
    parts = []
    for number, overdue_days in enumerate(p.DUNNING_DAYS_OVERDUE, start=1):
        day = invoices.due_day + overdue_days
        sent = np.flatnonzero(day < outcomes.settle_day)
        english = f"Reminder {number}: {overdue_days} days overdue"
        local = f"תזכורת {number}: {overdue_days} ימי פיגור"
        text = np.where(hebrew[sent], local, english).astype(object)
        parts.append(_plain(sent, day[sent], "reminder", text))
    larger = customers.segment[invoices.customer] != p.SEGMENTS.index("small")
    call_day = invoices.due_day + p.CALL_DAYS_OVERDUE + rng.integers(0, 4, len(invoices))
    wanted = larger & (rng.random(len(invoices)) < p.CALL_SHARE)
    called = np.flatnonzero(wanted & (call_day < outcomes.settle_day))
    parts.append(_plain(called, call_day[called], "call", _text("call", hebrew[called])))
    return _concat(*parts)


def _promises(
    rng: np.random.Generator,
    invoices: InvoiceDraw,
    outcomes: Outcomes,
    behaviour: Behaviour,
    payments: PaymentDraw,
    contacts: ActivityDraw,
    hebrew: np.ndarray,
) -> ActivityDraw:
    """Promises after some reminders and calls; honest ones name the real payment day."""
    answered = rng.random(len(contacts.invoice)) < p.PROMISE_SHARE
    invoice = contacts.invoice[answered]
    day = contacts.day[answered] + rng.integers(0, 4, len(invoice))
    settle = outcomes.settle_day[invoice]
    made = day < settle
    invoice, day, settle = invoice[made], day[made], settle[made]
    customer = invoices.customer[invoice]
    honest_share = np.where(
        behaviour.in_stress_at(customer, day),
        p.PROMISE_HONEST_SHARE_IN_STRESS,
        p.PROMISE_HONEST_SHARE,
    )
    honest = (rng.random(len(invoice)) < honest_share) & (settle - day <= p.PROMISE_WITHIN_DAYS)
    hopeful_day = day + rng.integers(5, 22, len(invoice))
    promised_day = np.where(honest, settle + rng.integers(0, 3, len(invoice)), hopeful_day)
    return ActivityDraw(
        invoice=invoice,
        day=day,
        kind=np.full(len(invoice), KIND_ORDER.index("promise")),
        promised_day=promised_day,
        promised_amount=_balance_on(invoices, payments, invoice, day),
        text=_text("promise", hebrew[invoice]),
    )


def _balance_on(
    invoices: InvoiceDraw, payments: PaymentDraw, invoice: np.ndarray, day: np.ndarray
) -> np.ndarray:
    """What is still owed on each (invoice, day): amount minus its payments up to that day."""
    applied = payments.invoice >= 0
    if not applied.any():
        return np.round(invoices.amount[invoice], 2)
    order = np.lexsort((payments.day[applied], payments.invoice[applied]))
    paid_invoice = payments.invoice[applied][order]
    paid_day = payments.day[applied][order]
    paid_cumulative = np.cumsum(payments.amount[applied][order])
    # position of the last payment of `invoice` dated <= day, via one sorted search
    key_scale = np.int64(1) << 32
    keys = paid_invoice.astype(np.int64) * key_scale + (paid_day - paid_day.min(initial=0))
    query = invoice.astype(np.int64) * key_scale + (day - paid_day.min(initial=0))
    position = np.searchsorted(keys, query, side="right") - 1
    invoice_start = np.searchsorted(paid_invoice, invoice, side="left")
    has_paid = position >= invoice_start
    before_invoice = np.where(invoice_start > 0, paid_cumulative[invoice_start - 1], 0.0)
    paid_so_far = np.where(
        has_paid, paid_cumulative[np.clip(position, 0, None)] - before_invoice, 0.0
    )
    return np.round(invoices.amount[invoice] - paid_so_far, 2)


def _notes(rng: np.random.Generator, invoices: InvoiceDraw, hebrew: np.ndarray) -> ActivityDraw:
    noted = np.flatnonzero(rng.random(len(invoices)) < p.NOTES_PER_INVOICE)
    which = rng.integers(0, len(names.NOTES_EN), len(noted))
    english = np.asarray(names.NOTES_EN, dtype=object)[which]
    local = np.asarray(names.NOTES_HE, dtype=object)[which]
    day = invoices.issue_day[noted] + rng.integers(1, 21, len(noted))
    return _plain(noted, day, "note", np.where(hebrew[noted], local, english))


def _concat(*parts: ActivityDraw) -> ActivityDraw:
    return ActivityDraw(
        *(np.concatenate([getattr(part, name) for part in parts]) for name in _FIELDS)
    )
