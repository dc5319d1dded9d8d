"""When each invoice is settled: its lateness law from the state at issue, then one draw."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledger.synthetic import params as p
from ledger.synthetic.behaviour import Behaviour
from ledger.synthetic.config import NO_DAY, month_index, month_last_day
from ledger.synthetic.customers import CustomerDraw
from ledger.synthetic.invoices import InvoiceDraw
from ledger.synthetic.oracle import LatenessLaw, sigmoid


@dataclass(frozen=True)
class Outcomes:
    """Per invoice: the state at issue, its law, and what happened (days may pass the end)."""

    law: LatenessLaw
    discipline: np.ndarray  # latent, at issue
    severity: np.ndarray  # stress severity at issue
    in_stress: np.ndarray  # bool, at issue
    disputed: np.ndarray  # bool: the disputed branch was drawn
    dispute_open_day: np.ndarray  # NO_DAY unless disputed and opened before settlement
    late: np.ndarray  # bool
    settle_day: np.ndarray  # the day the last payment arrives, possibly after the end


def is_year_end_due(due_day: np.ndarray) -> np.ndarray:
    """Due from Dec 15 to Jan 10, when year-end closing and holidays slow approvals."""
    months = month_index(due_day)
    day_of_month = due_day - month_last_day(months - 1)
    december = (months % 12 == 11) & (day_of_month >= 15)
    january = (months % 12 == 0) & (day_of_month <= 10)
    return december | january


def lateness_law(
    invoices: InvoiceDraw,
    customers: CustomerDraw,
    discipline: np.ndarray,
    severity: np.ndarray,
) -> LatenessLaw:
    """Both dispute branches of each invoice's law, from observable-in-principle state."""
    late_logit = (
        p.LATE_INTERCEPT
        + discipline
        + p.LATE_AMOUNT * invoices.amount_z
        + np.asarray(p.TERMS_LATE_LOGIT)[invoices.terms]
        + p.LATE_DECEMBER_DUE * is_year_end_due(invoices.due_day)
        + p.LATE_PAPER * ~invoices.paperless
        + p.LATE_STRESS * severity
    )
    log_scale = (
        p.DELAY_LOG_SCALE
        + p.DELAY_DISCIPLINE * discipline
        + p.DELAY_STRESS * severity
        + p.DELAY_AMOUNT * invoices.amount_z
    )
    enterprise = customers.segment[invoices.customer] == p.SEGMENTS.index("enterprise")
    dispute_logit = (
        p.DISPUTE_INTERCEPT
        + p.DISPUTE_AMOUNT * invoices.amount_z
        + p.DISPUTE_STRESS * severity
        + p.DISPUTE_ENTERPRISE * enterprise
    )
    return LatenessLaw(
        p_dispute=sigmoid(dispute_logit),
        p_late_undisputed=sigmoid(late_logit),
        p_late_disputed=sigmoid(late_logit + p.LATE_DISPUTED),
        delay_scale_undisputed_days=np.exp(log_scale),
        delay_scale_disputed_days=np.exp(log_scale + p.DELAY_DISPUTED),
    )


def draw_outcomes(
    rng: np.random.Generator,
    invoices: InvoiceDraw,
    customers: CustomerDraw,
    behaviour: Behaviour,
) -> Outcomes:
    """Fix each invoice's law at issue, then draw dispute, lateness and settlement day."""
    count = len(invoices)
    discipline = behaviour.discipline_at(invoices.customer, invoices.issue_day)
    severity = behaviour.severity_at(invoices.customer, invoices.issue_day)
    law = lateness_law(invoices, customers, discipline, severity)
    disputed = rng.random(count) < law.p_dispute
    p_late = np.where(disputed, law.p_late_disputed, law.p_late_undisputed)
    late = rng.random(count) < p_late
    scale = np.where(disputed, law.delay_scale_disputed_days, law.delay_scale_undisputed_days)
    odds = rng.random(count)
    delay = scale * (odds / (1.0 - odds)) ** (1.0 / p.DELAY_SHAPE)
    days_late = np.maximum(1, np.ceil(np.minimum(delay, p.DELAY_MAX_DAYS))).astype(np.int64)
    term_days = invoices.due_day - invoices.issue_day
    on_time_share = rng.random(count) ** (1.0 / p.ON_TIME_POWER)
    on_time_day = invoices.issue_day + np.ceil(on_time_share * term_days).astype(np.int64)
    settle_day = np.where(late, invoices.due_day + days_late, on_time_day)
    open_after = rng.integers(p.DISPUTE_OPEN_DAYS[0], p.DISPUTE_OPEN_DAYS[1] + 1, count)
    open_day = invoices.issue_day + open_after
    # a dispute can only be raised on an invoice that is not yet paid
    dispute_open_day = np.where(disputed & (open_day < settle_day), open_day, NO_DAY)
    return Outcomes(
        law=law,
        discipline=discipline,
        severity=severity,
        in_stress=behaviour.in_stress_at(invoices.customer, invoices.issue_day),
        disputed=disputed,
        dispute_open_day=dispute_open_day,
        late=late,
        settle_day=settle_day,
    )
