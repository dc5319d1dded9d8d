"""Invoices: when each customer is billed (with calendar seasonality), how much, on what terms."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledger.synthetic import params as p
from ledger.synthetic.behaviour import Behaviour
from ledger.synthetic.config import DAYS_PER_YEAR, month_index, month_last_day
from ledger.synthetic.customers import CustomerDraw

# Monday = 0; day number 0 (1970-01-01) was a Thursday
_EPOCH_WEEKDAY = 3
_WEEKEND = {False: (5, 6), True: (4, 5)}  # Israel rests on Friday and Saturday


@dataclass(frozen=True)
class InvoiceDraw:
    """One chunk's invoices, sorted by issue day then customer; arrays aligned by position."""

    customer: np.ndarray  # position of the customer in the chunk
    issue_day: np.ndarray
    due_day: np.ndarray
    amount: np.ndarray  # > 0, rounded to cents, in the customer's currency
    amount_z: np.ndarray  # standardized log(amount / customer's typical amount)
    terms: np.ndarray  # index into params.TERMS
    paperless: np.ndarray  # bool

    def __len__(self) -> int:
        return len(self.customer)


def issue_weights(days: np.ndarray, israeli_week: bool) -> np.ndarray:
    """Relative invoicing intensity per day (mean 1 over ``days``): month ends, weekends, Dec."""
    weekday = (days + _EPOCH_WEEKDAY) % 7
    months = month_index(days)
    weights = np.where(np.isin(weekday, _WEEKEND[israeli_week]), p.WEEKEND_WEIGHT, 1.0)
    month_end = days > month_last_day(months) - p.MONTH_END_DAYS
    weights = np.where(month_end, weights * p.MONTH_END_WEIGHT, weights)
    day_of_month = days - month_last_day(months - 1)
    late_december = (months % 12 == 11) & (day_of_month >= 20)
    weights = np.where(late_december, weights * p.LATE_DECEMBER_ISSUE_WEIGHT, weights)
    return weights / weights.mean()


def draw_invoices(
    rng: np.random.Generator,
    customers: CustomerDraw,
    behaviour: Behaviour,
    start_day: int,
    end_day: int,
) -> InvoiceDraw:
    """Draw every invoice of the chunk's customers between ``start_day`` and ``end_day``."""
    issue_day, customer = _issue_days(rng, customers, behaviour, start_day, end_day)
    amount_z = rng.standard_normal(len(customer))
    raw_amount = customers.typical_amount[customer] * np.exp(p.INVOICE_AMOUNT_SPREAD_LOG * amount_z)
    amount = np.maximum(1.0, np.round(raw_amount, 2))
    off_contract = rng.random(len(customer)) < p.TERMS_OFF_CONTRACT_SHARE
    other_terms = rng.integers(0, len(p.TERMS), len(customer))
    terms = np.where(off_contract, other_terms, customers.usual_terms[customer])
    paperless_share = np.asarray(p.PAPERLESS_INVOICE_SHARE)[
        customers.paperless[customer].astype(int)
    ]
    paperless = rng.random(len(customer)) < paperless_share
    return InvoiceDraw(
        customer=customer,
        issue_day=issue_day,
        due_day=due_days(issue_day, terms),
        amount=amount,
        amount_z=amount_z,
        terms=terms,
        paperless=paperless,
    )


def due_days(issue_day: np.ndarray, terms: np.ndarray) -> np.ndarray:
    """Due day from terms: ``netN`` = issue + N; ``eom+N`` = end of the issue month + N."""
    term_days = np.asarray(p.TERMS_DAYS)[terms]
    end_of_month = np.asarray(p.TERMS_END_OF_MONTH)[terms]
    anchor = np.where(end_of_month, month_last_day(month_index(issue_day)), issue_day)
    return anchor + term_days


def _issue_days(
    rng: np.random.Generator,
    customers: CustomerDraw,
    behaviour: Behaviour,
    start_day: int,
    end_day: int,
) -> tuple[np.ndarray, np.ndarray]:
    """A Poisson count per (day, customer); returns (issue day, customer) sorted that way."""
    days = np.arange(start_day, end_day + 1, dtype=np.int64)
    israeli = customers.country == p.COUNTRIES.index("IL")
    weights = np.where(
        israeli[None, :],
        issue_weights(days, israeli_week=True)[:, None],
        issue_weights(days, israeli_week=False)[:, None],
    )
    stop_day = np.minimum(customers.churn_day, behaviour.credit_hold_day)
    active = (customers.created_day[None, :] <= days[:, None]) & (days[:, None] < stop_day)
    stressed = (behaviour.stress_onset_day[None, :] <= days[:, None]) & (
        days[:, None] < behaviour.stress_end_day[None, :]
    )
    daily_rate = customers.invoices_per_year / DAYS_PER_YEAR
    intensity = (
        weights * daily_rate[None, :] * active * np.where(stressed, p.STRESS_INVOICE_RATE, 1)
    )
    counts = rng.poisson(intensity)
    day_pos, customer = np.nonzero(counts)
    repeats = counts[day_pos, customer]
    return np.repeat(days[day_pos], repeats), np.repeat(customer, repeats)
