"""Payments: each settled invoice's payments sum to its amount, the last on its paid date.

A partial payer (often a customer in stress) pays a first part around when it would
normally pay and the rest later, so its cash in shrinks before its invoices go very late.
Some customers also send unapplied payments (on account, no invoice).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledger.synthetic import params as p
from ledger.synthetic.behaviour import Behaviour
from ledger.synthetic.config import DAYS_PER_YEAR
from ledger.synthetic.customers import CustomerDraw
from ledger.synthetic.invoices import InvoiceDraw
from ledger.synthetic.lateness import Outcomes

UNAPPLIED = -1
"""Invoice position of a payment that is not applied to any invoice."""


@dataclass(frozen=True)
class PaymentDraw:
    """One chunk's payments dated up to the end; arrays aligned by position, unsorted."""

    customer: np.ndarray
    invoice: np.ndarray  # position of the invoice in the chunk, or UNAPPLIED
    day: np.ndarray
    amount: np.ndarray

    def __len__(self) -> int:
        return len(self.customer)


def draw_payments(
    rng: np.random.Generator,
    invoices: InvoiceDraw,
    outcomes: Outcomes,
    customers: CustomerDraw,
    behaviour: Behaviour,
    span_days: tuple[int, int],
) -> PaymentDraw:
    """Applied payments (instalments of each invoice) plus unapplied ones, up to the end."""
    start_day, end_day = span_days
    invoice, day, amount = _instalments(rng, invoices, outcomes, behaviour)
    extra_customer, extra_day, extra_amount = _unapplied(
        rng, customers, behaviour, start_day, end_day
    )
    payment = PaymentDraw(
        customer=np.concatenate([invoices.customer[invoice], extra_customer]),
        invoice=np.concatenate([invoice, np.full(len(extra_customer), UNAPPLIED)]),
        day=np.concatenate([day, extra_day]),
        amount=np.concatenate([amount, extra_amount]),
    )
    keep = payment.day <= end_day
    return PaymentDraw(
        customer=payment.customer[keep],
        invoice=payment.invoice[keep],
        day=payment.day[keep],
        amount=payment.amount[keep],
    )


def _instalments(
    rng: np.random.Generator, invoices: InvoiceDraw, outcomes: Outcomes, behaviour: Behaviour
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(invoice position, day, amount) of every instalment; amounts sum to the invoice's."""
    count = len(invoices)
    # a first part paid when the customer would normally have paid, the rest by settlement
    term_days = invoices.due_day - invoices.issue_day
    usual_share = rng.random(count) ** (1.0 / p.ON_TIME_POWER)
    first_day = np.minimum(
        invoices.issue_day + np.ceil(usual_share * term_days).astype(np.int64),
        outcomes.settle_day,
    )
    # stress on the day of paying, not of issue: splitting never moves the settlement day
    stressed = behaviour.in_stress_at(invoices.customer, first_day)
    partial = rng.random(count) < np.where(stressed, p.PARTIAL_SHARE_IN_STRESS, p.PARTIAL_SHARE)
    pieces = np.where(partial, rng.integers(p.INSTALMENTS[0], p.INSTALMENTS[1] + 1, count), 1)
    invoice = np.repeat(np.arange(count), pieces)
    first_row = np.cumsum(pieces) - pieces
    piece = np.arange(len(invoice)) - np.repeat(first_row, pieces)
    last_piece = piece == pieces[invoice] - 1
    settle = outcomes.settle_day[invoice]
    first = first_day[invoice]
    between = first + np.floor(rng.random(len(invoice)) * (settle - first + 1)).astype(np.int64)
    day = np.where(last_piece, settle, np.where(piece == 0, first, between))
    weights = 0.3 + rng.gamma(2.0, 1.0, len(invoice))
    # in stress the first part is small: cash in shrinks at once, the rest comes late
    stressed_first = (piece == 0) & stressed[invoice]
    weights = np.where(stressed_first, weights * p.STRESS_FIRST_PART_WEIGHT, weights)
    share = weights / np.bincount(invoice, weights)[invoice]
    rounded = np.round(invoices.amount[invoice] * share, 2)
    paid_before_last = np.bincount(invoice, np.where(last_piece, 0.0, rounded), minlength=count)
    remainder = np.round(invoices.amount - paid_before_last, 2)
    amount = np.where(last_piece, remainder[invoice], rounded)
    return invoice, day, amount


def _unapplied(
    rng: np.random.Generator,
    customers: CustomerDraw,
    behaviour: Behaviour,
    start_day: int,
    end_day: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(customer position, day, amount) of payments on account, not applied to invoices."""
    count = len(customers)
    sends = rng.random(count) < p.UNAPPLIED_CUSTOMER_SHARE
    first = np.maximum(start_day, customers.created_day)
    last = np.minimum(end_day, np.minimum(customers.churn_day, behaviour.credit_hold_day))
    active_days = np.clip(last - first, 0, None)
    per_customer = rng.poisson(sends * p.UNAPPLIED_PER_YEAR * active_days / DAYS_PER_YEAR)
    customer = np.repeat(np.arange(count), per_customer)
    day = first[customer] + np.floor(rng.random(len(customer)) * active_days[customer]).astype(
        np.int64
    )
    low, high = p.UNAPPLIED_AMOUNT_SHARE
    amount = np.round(customers.typical_amount[customer] * rng.uniform(low, high, len(customer)), 2)
    return customer, day, np.maximum(amount, 1.0)
