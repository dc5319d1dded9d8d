"""The customer's payments as of t: recency, recent amounts vs before, partial payments.

A ledger with paid dates but no payments file still has payments: an invoice settled by
its ``paid_date`` with less applied than its amount is taken as paid in full on that day
(an *implied* payment of the rest). Payments dated <= t are known at t.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from features.asof import FAR_DAY, EventTable, clean_amount
from features.context import Context

# Cents-level rounding in source systems (same tolerance as ledger.settlement).
COVER_TOLERANCE_AMOUNT = 0.01
RECENT_DAYS = 30
WINDOW_DAYS = 90


@dataclass(frozen=True)
class EffectivePayments:
    """Actual payments plus implied ones; ``invoice_pos`` -1 when unapplied."""

    customer_code: np.ndarray
    invoice_pos: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    partial: np.ndarray  # applied and smaller than its invoice
    # Per customer: amount, applied (0/1) and partial (0/1) running sums. Built once, here
    # (payment and promise features both read it), not lazily: functools.cached_property
    # takes a lock shared by every instance on Python 3.11, which concurrent requests
    # would queue on.
    by_customer: EventTable = field(init=False, repr=False)

    def __post_init__(self) -> None:
        applied = (self.invoice_pos >= 0).astype(np.float64)
        values = {"amount": self.amount, "applied": applied, "partial": self.partial}
        table = EventTable(self.customer_code, self.day, values)
        object.__setattr__(self, "by_customer", table)  # frozen: set once, at construction

    def by_invoice(self) -> EventTable:
        """Per invoice (codes = invoice positions): running sum of applied amounts."""
        applied = self.invoice_pos >= 0
        return EventTable(
            self.invoice_pos[applied], self.day[applied], {"amount": self.amount[applied]}
        )


def effective_payments(context: Context) -> EffectivePayments:
    """The ledger's payments and, per invoice settled with less applied, the implied rest."""
    inv, pay = context.invoices, context.payments
    rest = inv.amount - inv.paid_through_settle
    implied = np.flatnonzero((inv.settle_day < FAR_DAY) & (rest > COVER_TOLERANCE_AMOUNT))
    applied = pay.invoice_pos >= 0
    invoice_amount = np.full(pay.amount.shape, np.inf)  # unapplied: never partial
    invoice_amount[applied] = inv.amount[pay.invoice_pos[applied]]  # no invoices: none
    actual_partial = applied & (pay.amount < invoice_amount - COVER_TOLERANCE_AMOUNT)
    implied_partial = rest[implied] < inv.amount[implied] - COVER_TOLERANCE_AMOUNT
    return EffectivePayments(
        customer_code=np.concatenate([pay.customer_code, inv.customer_code[implied]]),
        invoice_pos=np.concatenate([pay.invoice_pos, implied]),
        day=np.concatenate([pay.day, inv.settle_day[implied]]),
        amount=np.concatenate([pay.amount, rest[implied]]),
        partial=np.concatenate([actual_partial, implied_partial]).astype(np.float64),
    )


def payment_features(
    payments: EffectivePayments, codes: np.ndarray, days: np.ndarray
) -> dict[str, np.ndarray]:
    """Per (customer code, day): payment recency, windowed amounts and partial share."""
    table = payments.by_customer
    last_90 = clean_amount(table.window_total("amount", codes, days, WINDOW_DAYS))
    previous_90 = clean_amount(
        table.window_total("amount", codes, days, WINDOW_DAYS, lag_days=WINDOW_DAYS)
    )
    applied = table.total("applied", codes, days)
    with np.errstate(divide="ignore", invalid="ignore"):
        return {
            "days_since_last_payment": table.days_since_last(codes, days),
            "paid_amount_last_30d": clean_amount(
                table.window_total("amount", codes, days, RECENT_DAYS)
            ),
            "paid_amount_last_90d": last_90,
            "paid_amount_prev_90d": previous_90,
            "payment_drop_ratio": np.where(previous_90 > 0, last_90 / previous_90, np.nan),
            "partial_payment_share": np.where(
                applied > 0, table.total("partial", codes, days) / applied, np.nan
            ),
        }
