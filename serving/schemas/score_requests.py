"""Request models of the scoring routes and the refresh.

Several stored customers by id (``ScoresRequest``), one customer's whole history sent by
the caller (``StatelessRequest``), or the refresh of every open invoice
(``RefreshRequest``); each answered with the models of ``serving.schemas.scores``.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field

from serving.schemas.ledger import (
    ActivityRecord,
    CustomerRecord,
    InvoiceRecord,
    LedgerDate,
    LedgerId,
    PaymentRecord,
)
from serving.schemas.scores import Lang


class ScoresRequest(BaseModel):
    """Several customers of the stored ledger, scored as of one date."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={"examples": [{"customer_ids": ["C-1001", "C-1002"], "lang": "en"}]},
    )

    customer_ids: list[LedgerId] = Field(
        min_length=1, description="at most max_score_customers ids; repeats are scored once"
    )
    as_of: LedgerDate | None = Field(None, description="default: today")
    lang: Lang = "en"


class StatelessRequest(BaseModel):
    """One customer's history, sent by the caller; nothing of it is stored."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {
                    "customer": {"customer_id": "C-1001", "currency": "ILS"},
                    "invoices": [
                        {
                            "invoice_id": "INV-5001",
                            "customer_id": "C-1001",
                            "issue_date": "2026-10-01",
                            "due_date": "2026-11-30",
                            "amount": 18450.0,
                            "terms": "eom+30",
                        }
                    ],
                    "payments": [],
                    "activities": [],
                    "as_of": "2026-12-04",
                    "lang": "en",
                }
            ]
        },
    )

    customer: CustomerRecord
    invoices: list[InvoiceRecord] = Field(default_factory=list)
    payments: list[PaymentRecord] = Field(default_factory=list)
    activities: list[ActivityRecord] = Field(default_factory=list)
    as_of: LedgerDate | None = Field(None, description="default: today")
    lang: Lang = "en"

    def row_count(self) -> int:
        """Rows over all tables (the customer included)."""
        return 1 + len(self.invoices) + len(self.payments) + len(self.activities)


class RefreshRequest(BaseModel):
    """Score every open invoice of the ledger and store the scores."""

    model_config = ConfigDict(extra="forbid", json_schema_extra={"examples": [{"as_of": None}]})

    as_of: LedgerDate | None = Field(None, description="default: today")
