"""Request and response bodies of the worklist, KPI and action routes."""

from __future__ import annotations

import datetime as dt
from typing import Any, Literal

from pydantic import BaseModel, Field

from serving.schemas.ledger import Amount, LedgerDate, LedgerId, LedgerText

ActionKind = Literal[
    "call", "reminder", "promise", "dispute_opened", "dispute_resolved", "note", "reassign"
]


class WorklistItem(BaseModel):
    """One customer on the worklist; amounts in the reporting currency."""

    rank: int
    customer_id: str
    name: str | None
    collector: str
    section: Literal["today", "later", "snoozed"] = Field(
        description="today: within the collector's capacity; snoozed: an active promise"
    )
    tier: Literal["high", "medium", "low"]
    amount_at_risk: float = Field(description="sum of open amount x P(> 30 days late)")
    open_amount: float
    next_action: str | None
    policy_rule: str | None
    snoozed_until: dt.date | None
    reasons: list[str]
    days_overdue: int | None
    open_disputes: int
    broken_promises: int
    days_since_broken_promise: int | None
    days_since_contact: int | None
    segment: str | None
    country: str | None
    currency: str | None = Field(description="the customer's billing currency")


class WorklistPage(BaseModel):
    """A page of the ranked worklist."""

    as_of: dt.date
    reporting_currency: str
    scored_at: dt.datetime | None = Field(description="when the scores used were computed")
    model_version: str | None
    total: int = Field(description="customers matching the filters, over all pages")
    page: int
    page_size: int
    items: list[WorklistItem]
    notice: str | None = None


class KpiReport(BaseModel):
    """AR KPIs at a date, their monthly trend, and the worklist's own effect."""

    as_of: dt.date
    group_by: str | None
    currency_mode: Literal["per_currency", "reporting"]
    reporting_currency: str | None
    formulas: dict[str, str]
    current: list[dict[str, Any]]
    trend: list[dict[str, Any]]
    worklist_effect: list[dict[str, Any]] | None
    notice: str | None = None


class ActionIn(BaseModel):
    """A collector's action on a customer."""

    kind: ActionKind
    date: LedgerDate | None = Field(None, description="when it happened; default today")
    invoice_id: LedgerId | None = None
    promised_date: LedgerDate | None = Field(None, description="promise: the date payment is due")
    promised_amount: Amount | None = Field(None, description="promise: the amount, > 0")
    text: LedgerText | None = Field(None, description="a note, the call's outcome")
    collector: LedgerId | None = Field(None, description="reassign: the new collector")


class ActionOut(BaseModel):
    """The stored activity, with who logged it and when."""

    activity_id: str
    customer_id: str
    kind: str
    date: dt.date
    invoice_id: str | None
    promised_date: dt.date | None
    promised_amount: float | None
    text: str | None
    created_by: str
    created_at: dt.datetime
