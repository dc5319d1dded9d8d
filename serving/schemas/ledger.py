"""Request and response models of ledger ingest, one field per contract column.

Field names are exactly the columns of ``ledger.contract`` (a test checks it). These
models check types and ranges only: ids, text, dates within ``MIN_DATE``..``MAX_DATE``,
finite amounts. The ledger's own rules (amounts > 0, due after issue, codes, activity
kinds, references) are the file import's, applied by ``serving.ingest``, so a row gets
the same verdict whichever way it arrives.
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StringConstraints

# pandas stores dates as datetime64[ns] (years 1677-2262): keep well inside.
MIN_DATE = date(1900, 1, 1)
MAX_DATE = date(2200, 12, 31)
# NUMERIC(18, 2) holds 16 digits before the point.
MAX_AMOUNT = 1e15
MAX_ID_LENGTH = 200
MAX_TEXT_LENGTH = 10_000


def storable_text(value: str) -> str:
    """``value`` if a database can store it as text, else ``ValueError`` saying why."""
    # Refused here rather than failing in the driver: PostgreSQL text cannot hold NUL.
    # (Lone surrogates never get this far: pydantic's str validation refuses them.)
    if "\x00" in value:
        raise ValueError("must not contain NUL (\\x00) characters")
    return value


LedgerId = Annotated[
    str,
    StringConstraints(min_length=1, max_length=MAX_ID_LENGTH),
    AfterValidator(storable_text),
]
LedgerText = Annotated[
    str, StringConstraints(max_length=MAX_TEXT_LENGTH), AfterValidator(storable_text)
]
LedgerDate = Annotated[date, Field(ge=MIN_DATE, le=MAX_DATE)]
Amount = Annotated[float, Field(allow_inf_nan=False, ge=-MAX_AMOUNT, le=MAX_AMOUNT)]


def _examples(*examples: dict[str, Any]) -> ConfigDict:
    return ConfigDict(extra="forbid", json_schema_extra={"examples": list(examples)})


_CUSTOMER_EXAMPLE = {
    "customer_id": "C-1001",
    "name": "Galil Foods Ltd",
    "segment": "mid-market",
    "industry": "food",
    "country": "IL",
    "currency": "ILS",
    "credit_limit": 250000.0,
    "created_date": "2021-03-01",
    "collector": "dana",
    "language": "he",
}
_INVOICE_EXAMPLE = {
    "invoice_id": "INV-5001",
    "customer_id": "C-1001",
    "issue_date": "2026-10-01",
    "due_date": "2026-11-30",
    "amount": 18450.0,
    "currency": "ILS",
    "terms": "eom+30",
    "disputed": False,
    "paperless": True,
    "paid_date": None,
}
_PAYMENT_EXAMPLE = {
    "payment_id": "PAY-9001",
    "customer_id": "C-1001",
    "invoice_id": "INV-5001",
    "payment_date": "2026-12-02",
    "amount": 9000.0,
}
_ACTIVITY_EXAMPLE = {
    "activity_id": "ACT-77",
    "customer_id": "C-1001",
    "invoice_id": "INV-5001",
    "date": "2026-12-03",
    "kind": "promise",
    "promised_date": "2026-12-15",
    "promised_amount": 9450.0,
    "text": "will pay the rest mid-month",
}


def _without_key(example: dict[str, Any], key: str) -> dict[str, Any]:
    return {name: value for name, value in example.items() if name != key}


class _CustomerFields(BaseModel):
    name: LedgerText | None = None
    segment: LedgerText | None = None
    industry: LedgerText | None = None
    country: LedgerText | None = Field(None, description="ISO 3166-1 alpha-2, e.g. IL")
    currency: LedgerText | None = Field(None, description="ISO 4217, e.g. ILS")
    credit_limit: Amount | None = Field(None, description=">= 0, in the customer's currency")
    created_date: LedgerDate | None = None
    collector: LedgerText | None = None
    language: LedgerText | None = Field(None, description="e.g. en, he")


class CustomerIn(_CustomerFields):
    """A customer for ``PUT /v1/customers/{customer_id}``; the id may be left out."""

    model_config = _examples(_without_key(_CUSTOMER_EXAMPLE, "customer_id"))

    customer_id: LedgerId | None = Field(None, description="if given, equal to the path's id")


class CustomerRecord(_CustomerFields):
    """A customer as stored (and as sent in a batch)."""

    model_config = _examples(_CUSTOMER_EXAMPLE)

    customer_id: LedgerId


class _InvoiceFields(BaseModel):
    customer_id: LedgerId
    issue_date: LedgerDate
    due_date: LedgerDate = Field(description="not before issue_date")
    amount: Amount = Field(description="> 0, in the invoice's currency")
    currency: LedgerText | None = Field(None, description="ISO 4217, e.g. ILS")
    terms: LedgerText | None = Field(None, description="e.g. net30, eom+60")
    disputed: bool | None = None
    paperless: bool | None = None
    paid_date: LedgerDate | None = Field(None, description="empty while the invoice is open")


class InvoiceIn(_InvoiceFields):
    """An invoice for ``PUT /v1/invoices/{invoice_id}``; the id may be left out."""

    model_config = _examples(_without_key(_INVOICE_EXAMPLE, "invoice_id"))

    invoice_id: LedgerId | None = Field(None, description="if given, equal to the path's id")


class InvoiceRecord(_InvoiceFields):
    """An invoice as stored (and as sent in a batch)."""

    model_config = _examples(_INVOICE_EXAMPLE)

    invoice_id: LedgerId


class _PaymentFields(BaseModel):
    customer_id: LedgerId
    invoice_id: LedgerId | None = Field(None, description="empty for an unapplied payment")
    payment_date: LedgerDate
    amount: Amount = Field(description="> 0")


class PaymentIn(_PaymentFields):
    """A payment for ``PUT /v1/payments/{payment_id}``; the id may be left out."""

    model_config = _examples(_without_key(_PAYMENT_EXAMPLE, "payment_id"))

    payment_id: LedgerId | None = Field(None, description="if given, equal to the path's id")


class PaymentRecord(_PaymentFields):
    """A payment as stored (and as sent in a batch)."""

    model_config = _examples(_PAYMENT_EXAMPLE)

    payment_id: LedgerId


class ActivityRecord(BaseModel):
    """A collection activity; its id makes a repeated POST an update, not a duplicate."""

    model_config = _examples(_ACTIVITY_EXAMPLE)

    activity_id: LedgerId
    customer_id: LedgerId
    invoice_id: LedgerId | None = None
    date: LedgerDate
    kind: LedgerText | None = Field(
        None, description="reminder, call, promise, dispute_opened, dispute_resolved or note"
    )
    promised_date: LedgerDate | None = Field(None, description="for kind=promise")
    promised_amount: Amount | None = Field(None, description="for kind=promise")
    text: LedgerText | None = None


class LedgerBatch(BaseModel):
    """Rows of any tables, stored in one transaction: all of them or none."""

    model_config = _examples(
        {
            "customers": [_CUSTOMER_EXAMPLE],
            "invoices": [_INVOICE_EXAMPLE],
            "payments": [_PAYMENT_EXAMPLE],
            "activities": [_ACTIVITY_EXAMPLE],
        }
    )

    customers: list[CustomerRecord] = Field(default_factory=list)
    invoices: list[InvoiceRecord] = Field(default_factory=list)
    payments: list[PaymentRecord] = Field(default_factory=list)
    activities: list[ActivityRecord] = Field(default_factory=list)

    def row_count(self) -> int:
        """Rows over all tables."""
        return len(self.customers) + len(self.invoices) + len(self.payments) + len(self.activities)


class BatchResult(BaseModel):
    """What a batch stored: rows per table."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"rows": {"customers": 1, "invoices": 1, "payments": 1, "activities": 1}}]
        }
    )

    rows: dict[str, int] = Field(description="rows upserted per table")


class RowError(BaseModel):
    """One rejected value: which table and row of the request, which field, and why."""

    table: str
    index: int = Field(description="0-based position of the row in its table's list")
    field: str
    value: str | None = None
    reason: str


class RejectedRows(BaseModel):
    """The 422 body when ledger rules reject rows; nothing of the request was stored."""

    detail: str
    errors: list[RowError]


RECORD_MODELS: dict[str, type[BaseModel]] = {
    "customers": CustomerRecord,
    "invoices": InvoiceRecord,
    "payments": PaymentRecord,
    "activities": ActivityRecord,
}
"""Ledger table -> the model of one stored row."""

SINGLE_MODELS: dict[str, type[BaseModel]] = {
    "customers": CustomerIn,
    "invoices": InvoiceIn,
    "payments": PaymentIn,
    "activities": ActivityRecord,
}
"""Ledger table -> the body model of its single-row route."""
