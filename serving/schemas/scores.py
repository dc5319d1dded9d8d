"""Response models of the scoring routes and the refresh (their requests are in
``serving.schemas.score_requests``).

A scoring answer is the same whichever way the history arrived (stored or stateless):
the model that answered (name and version), the as-of date, per customer the expected
amount more than 30 days late, the tier and the top reasons, and per open invoice the
bucket probabilities, P(late), P(> 30 days late), expected days late, predicted payment
date and its top 3 reasons. ``from_scored`` builds them from ``serving.scoring.Scored``.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from models.explain import Reason
from serving.scored import Scored
from serving.stored_scores import plain_value

Lang = Literal["en", "he"]
DEFAULT_LANG: Lang = "en"  # of the reasons when a request names none
Tier = Literal["low", "medium", "high"]

_REASON_EXAMPLE: dict[str, Any] = {
    "feature": "days_to_due",
    "value": -45.0,
    "contribution": 0.82,
    "direction": "raises",
    "text": "invoice is 45 days overdue",
}
_INVOICE_EXAMPLE: dict[str, Any] = {
    "invoice_id": "INV-5001",
    "currency": "ILS",
    "open_amount": 9450.0,
    "due_date": "2026-11-30",
    "bucket_probabilities": {
        "on_time": 0.05,
        "late_1_30": 0.35,
        "late_31_60": 0.3,
        "late_61_90": 0.2,
        "late_over_90": 0.1,
    },
    "p_late": 0.95,
    "p_over_30": 0.6,
    "expected_days_late": 38.5,
    "predicted_payment_date": "2027-01-07",
    "reasons": [_REASON_EXAMPLE],
}
_CUSTOMER_EXAMPLE: dict[str, Any] = {
    "customer_id": "C-1001",
    "currency": "ILS",
    "open_invoices": 1,
    "open_amount": 9450.0,
    "expected_amount_over_30": 5670.0,
    "expected_share_over_30": 0.6,
    "amount_at_risk": 1530.9,
    "reporting_currency": "USD",
    "risk_tier": "medium",
    "reasons": [_REASON_EXAMPLE],
    "invoices": [_INVOICE_EXAMPLE],
}
_MODEL_EXAMPLE: dict[str, Any] = {"name": "payment-risk", "version": "3"}


class ReasonOut(BaseModel):
    """One reason: the feature, its value, its push on the log-odds of "late", in words."""

    model_config = ConfigDict(json_schema_extra={"examples": [_REASON_EXAMPLE]})

    feature: str
    value: float | str | None = Field(description="the feature's value for this invoice")
    contribution: float = Field(description="push on the log-odds of late (> 0 raises the risk)")
    direction: Literal["raises", "lowers"]
    text: str = Field(description="the reason in plain words, in the requested language")

    @classmethod
    def of(cls, reason: Reason) -> ReasonOut:
        """From ``models.explain.Reason``."""
        return cls(
            feature=reason.feature,
            value=plain_value(reason.value),
            contribution=float(reason.contribution),
            direction=reason.direction,
            text=reason.text,
        )


class InvoiceScore(BaseModel):
    """The risk of one open invoice as of the date."""

    model_config = ConfigDict(json_schema_extra={"examples": [_INVOICE_EXAMPLE]})

    invoice_id: str
    currency: str | None
    open_amount: float = Field(description="amount still open at as_of, invoice currency")
    due_date: date
    bucket_probabilities: dict[str, float] = Field(description="P(each days-late bucket)")
    p_late: float = Field(description="P(paid after the due date)")
    p_over_30: float = Field(description="P(paid more than 30 days after the due date)")
    expected_days_late: float = Field(description="days; at least the days already overdue")
    predicted_payment_date: date
    reasons: list[ReasonOut] = Field(description="top 3 reasons, strongest first")


class CustomerRisk(BaseModel):
    """A customer's risk: the roll-up over its open invoices, and each of them."""

    model_config = ConfigDict(json_schema_extra={"examples": [_CUSTOMER_EXAMPLE]})

    customer_id: str
    currency: str | None = Field(description="the open invoices' currency; null when mixed")
    open_invoices: int
    open_amount: float = Field(description="sum of the open invoices' open amounts, to the cent")
    expected_amount_over_30: float = Field(
        description="sum over open invoices of open amount x P(> 30 days late), to the cent"
    )
    expected_share_over_30: float = Field(description="expected_amount_over_30 / open_amount")
    amount_at_risk: float | None = Field(
        description="expected_amount_over_30 in the reporting currency, to the cent "
        "(what the worklist ranks by); null when a currency has no exchange rate"
    )
    reporting_currency: str
    risk_tier: Tier | None = Field(
        description="high / medium / low: amount_at_risk against the configured thresholds "
        "(tier_high_amount, tier_medium_amount), as on the worklist; null without amount_at_risk"
    )
    reasons: list[ReasonOut] = Field(description="the reasons of the riskiest open invoice")
    invoices: list[InvoiceScore] = Field(description="open invoices, riskiest first")

    @classmethod
    def from_scored(cls, scored: Scored, position: int, lang: str) -> CustomerRisk:
        """Row ``position`` of ``scored.customers`` with its invoices and reasons."""
        customer = scored.customer_records[position]
        rows = scored.invoice_rows_by_customer.get(str(customer["customer_id"]), [])
        return cls(
            customer_id=str(customer["customer_id"]),
            currency=None if pd.isna(customer["currency"]) else str(customer["currency"]),
            open_invoices=int(customer["open_invoices"]),
            open_amount=round(float(customer["open_amount"]), 2),
            expected_amount_over_30=round(float(customer["expected_amount_over_30"]), 2),
            expected_share_over_30=float(customer["expected_share_over_30"]),
            amount_at_risk=_cents(customer["amount_at_risk"]),
            reporting_currency=str(customer["reporting_currency"]),
            risk_tier=None if pd.isna(customer["risk_tier"]) else str(customer["risk_tier"]),
            reasons=[ReasonOut.of(reason) for reason in scored.customer_reasons(position, lang)],
            invoices=[_invoice_score(scored, row, lang) for row in rows],
        )


def _cents(value: float) -> float | None:
    """A money amount rounded to the cent, None when missing (NaN)."""
    return None if pd.isna(value) else round(float(value), 2)


def _invoice_score(scored: Scored, row: int, lang: str) -> InvoiceScore:
    invoice = scored.invoice_records[row]
    return InvoiceScore(
        invoice_id=str(invoice["invoice_id"]),
        currency=None if pd.isna(invoice["currency"]) else str(invoice["currency"]),
        open_amount=float(invoice["open_amount"]),
        due_date=pd.Timestamp(invoice["due_date"]).date(),
        bucket_probabilities={
            label: float(invoice[f"p_{label}"]) for label in scored.bucket_labels
        },
        p_late=float(invoice["p_late"]),
        p_over_30=float(invoice["p_over_30"]),
        expected_days_late=float(invoice["expected_days_late"]),
        predicted_payment_date=pd.Timestamp(invoice["predicted_payment_date"]).date(),
        reasons=[ReasonOut.of(reason) for reason in scored.reasons[lang][row]],
    )


class ModelRef(BaseModel):
    """The model version that answered."""

    name: str
    version: str


class CustomerRiskResponse(BaseModel):
    """``GET /v1/customers/{id}/risk`` and ``POST /v1/scores:stateless``."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "model": _MODEL_EXAMPLE,
                    "as_of": "2026-12-04",
                    "lang": "en",
                    "reasons_method": "shap",
                    "customer": _CUSTOMER_EXAMPLE,
                }
            ]
        }
    )

    model: ModelRef
    as_of: date
    lang: Lang
    reasons_method: Literal["shap", "path"] = Field(
        description="shap: exact TreeSHAP; path: the fast path approximation"
    )
    customer: CustomerRisk


class ScoreError(BaseModel):
    """A customer of the request that could not be scored, and why."""

    customer_id: str
    status: int = Field(description="404: not in the ledger; 422: as_of before its data")
    detail: str


class ScoresResponse(BaseModel):
    """Every known customer's risk; unknown ones (and other per-customer refusals) in errors.

    Always 200 when the request itself is valid, even if every id is unknown: the
    answer for each id is in ``customers`` or ``errors``.
    """

    model: ModelRef
    as_of: date
    lang: Lang
    reasons_method: Literal["shap", "path"]
    customers: list[CustomerRisk]
    errors: list[ScoreError]


class RefreshResponse(BaseModel):
    """What a refresh stored, and how long it took."""

    model: ModelRef
    as_of: date
    scored_at: datetime = Field(description="the time stored with every row of this refresh")
    invoices_scored: int
    customers_scored: int = Field(description="customers with at least one open invoice")
    reasons_method: Literal["shap", "path"]
    seconds: dict[str, float] = Field(description="seconds per stage: load, features, ...")
    rows_per_second: float
