"""Every feature payrisk computes: name, one-line description, unit, kind and family.

The registry is the contract between ``features.build.build_features`` (which returns one
column per entry, in this order), the model (which reads ``FEATURE_NAMES`` and encodes
``CATEGORICAL_FEATURES``), ``payrisk features`` (which prints it) and ``docs/features.md``.

Point in time: a row "as of" t uses only facts known at t (DESIGN.md, "Modeling").
"Paid" means settled <= t (``ledger.settlement``); "late" means settled after the due
date; "overdue at t" means open at t with due date < t. The customer's *history*
excludes the row's own invoice; the customer's *open position* includes it.
Unknown is NaN (e.g. no paid invoice yet), never a silent 0.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

FeatureKind = Literal["numeric", "categorical"]
FAMILIES = ("invoice", "history", "position", "payments", "activities", "customer")


@dataclass(frozen=True)
class FeatureSpec:
    """One feature: numeric ones are float64 in the frame, categorical ones pandas string."""

    name: str
    description: str
    unit: str
    kind: FeatureKind
    family: str


def _n(name: str, family: str, unit: str, description: str) -> FeatureSpec:
    return FeatureSpec(name, description, unit, "numeric", family)


def _c(name: str, family: str, description: str) -> FeatureSpec:
    return FeatureSpec(name, description, "category", "categorical", family)


_INVOICE = (
    _n("amount", "invoice", "currency", "the invoice amount, in the invoice's currency"),
    _n(
        "open_amount",
        "invoice",
        "currency",
        "invoice amount minus its applied payments dated <= t; 0 once settled <= t",
    ),
    _n("log_amount", "invoice", "log currency", "natural log of (1 + amount)"),
    _n(
        "paid_share",
        "invoice",
        "ratio 0-1",
        "share of the invoice paid by t: its applied payments dated <= t / amount (1 if settled)",
    ),
    _n(
        "amount_vs_customer_median",
        "invoice",
        "ratio",
        "amount / median amount of the customer's invoices issued <= t (this one included)",
    ),
    _c(
        "terms",
        "invoice",
        "normalized payment terms, e.g. net30, eom+60 (unrecognized: their lower-cased text)",
    ),
    _n(
        "terms_days",
        "invoice",
        "days",
        "credit days the terms grant from issue: netN -> N, eom+N -> days to month end + N;"
        " NaN if missing or unrecognized",
    ),
    _n("days_to_due", "invoice", "days", "due date - t; negative when overdue"),
    _n("days_overdue", "invoice", "days", "t - due date when due < t, else 0"),
    _n("days_since_issue", "invoice", "days", "t - issue date"),
    _n(
        "issued_month_end",
        "invoice",
        "flag 0/1",
        "1 if the invoice was issued in the last 3 days of its month",
    ),
    _n("issue_weekday", "invoice", "0=Mon..6=Sun", "weekday of the issue date"),
    _c("currency", "invoice", "the invoice's currency (ISO 4217), else the customer's"),
    _n(
        "disputed",
        "invoice",
        "flag 0/1/NaN",
        "open dispute on this invoice at t from dispute_opened/resolved activities dated <= t;"
        " if the customer has no dispute activities at all, the invoice's static flag,"
        " taken as known at issue",
    ),
    _n("paperless", "invoice", "flag 0/1/NaN", "the invoice was sent electronically"),
)

_HISTORY = (
    _n(
        "paid_invoices_count",
        "history",
        "invoices",
        "customer's other invoices settled <= t (0 = no history: the ratios below are NaN)",
    ),
    _n("late_invoices_count", "history", "invoices", "of those, settled after their due date"),
    _n("late_ratio_by_count", "history", "ratio 0-1", "late / paid invoices; NaN without history"),
    _n(
        "late_ratio_by_amount",
        "history",
        "ratio 0-1",
        "amount of late paid invoices / amount of paid invoices; NaN without history",
    ),
    _n(
        "mean_days_late",
        "history",
        "days",
        "mean of (settled - due) over paid invoices, negative = early; NaN without history",
    ),
    _n("last_days_late", "history", "days", "days late of the most recently settled invoice"),
    _n(
        "mean_days_late_last_4",
        "history",
        "days",
        "mean days late of the (up to) 4 most recently settled invoices",
    ),
    _n(
        "days_late_trend",
        "history",
        "days",
        "mean_days_late_last_4 - mean_days_late; positive = paying later than usual",
    ),
    _n("std_days_late", "history", "days", "sample std of days late; NaN under 2 paid invoices"),
    _n("max_days_late", "history", "days", "largest days late over paid invoices"),
    _n(
        "on_time_streak",
        "history",
        "invoices",
        "settled invoices paid on time in a row, most recent first",
    ),
)

_POSITION = (
    _n(
        "open_invoices_count",
        "position",
        "invoices",
        "customer's invoices issued <= t and not settled by t (this one included)",
    ),
    _n(
        "open_invoices_amount",
        "position",
        "currency",
        "their amount minus applied payments dated <= t",
    ),
    _n("overdue_invoices_count", "position", "invoices", "open invoices with due date < t"),
    _n("overdue_invoices_amount", "position", "currency", "their open amount"),
    _n(
        "overdue_share",
        "position",
        "ratio 0-1",
        "overdue / open amount; NaN when nothing is open",
    ),
    _n("max_days_overdue", "position", "days", "t - oldest due date among overdue open invoices"),
    _n(
        "credit_utilization",
        "position",
        "ratio",
        "open_invoices_amount / credit limit; NaN without a positive credit limit",
    ),
)

_PAYMENTS = (
    _n(
        "days_since_last_payment",
        "payments",
        "days",
        "t - the customer's last payment dated <= t; NaN if none",
    ),
    _n("paid_amount_last_30d", "payments", "currency", "customer's payments in (t-30d, t]"),
    _n("paid_amount_last_90d", "payments", "currency", "customer's payments in (t-90d, t]"),
    _n("paid_amount_prev_90d", "payments", "currency", "customer's payments in (t-180d, t-90d]"),
    _n(
        "payment_drop_ratio",
        "payments",
        "ratio",
        "paid_amount_last_90d / paid_amount_prev_90d (< 1 = paying less); NaN if prev is 0",
    ),
    _n(
        "partial_payment_share",
        "payments",
        "ratio 0-1",
        "share of applied payments dated <= t smaller than their invoice; NaN if none",
    ),
)

_ACTIVITIES = (
    _n("reminders_last_90d", "activities", "reminders", "reminders dated in (t-90d, t]"),
    _n("promises_count", "activities", "promises", "promises to pay made <= t"),
    _n(
        "broken_promises_count",
        "activities",
        "promises",
        "promises with promised date < t whose amount was not paid in [made, promised date]",
    ),
    _n(
        "open_disputes_count",
        "activities",
        "disputes",
        "customer's dispute_opened minus dispute_resolved dated <= t (floored at 0)",
    ),
    _n(
        "days_since_last_contact",
        "activities",
        "days",
        "t - the customer's last activity dated <= t; NaN if none",
    ),
)

_CUSTOMER = (
    _n(
        "tenure_days",
        "customer",
        "days",
        "t - customer created date (else the customer's first invoice date)",
    ),
    _n("invoices_count", "customer", "invoices", "customer's invoices issued <= t (this one too)"),
    _n("credit_limit", "customer", "currency", "credit limit (master data); NaN if unknown"),
    _c("segment", "customer", "customer segment (master data)"),
    _c("industry", "customer", "customer industry (master data)"),
    _c("country", "customer", "customer country, ISO 3166-1 alpha-2 (master data)"),
)

FEATURES: tuple[FeatureSpec, ...] = (
    *_INVOICE,
    *_HISTORY,
    *_POSITION,
    *_PAYMENTS,
    *_ACTIVITIES,
    *_CUSTOMER,
)
FEATURE_NAMES: tuple[str, ...] = tuple(spec.name for spec in FEATURES)
CATEGORICAL_FEATURES: tuple[str, ...] = tuple(
    spec.name for spec in FEATURES if spec.kind == "categorical"
)
NUMERIC_FEATURES: tuple[str, ...] = tuple(spec.name for spec in FEATURES if spec.kind == "numeric")
FEATURES_BY_NAME: dict[str, FeatureSpec] = {spec.name: spec for spec in FEATURES}
KEY_COLUMNS: tuple[str, ...] = ("invoice_id", "customer_id", "as_of")
