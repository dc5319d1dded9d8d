"""Ledger ingest (scope ``ingest``): idempotent upserts by id, single rows and batches.

A ``PUT`` replaces the stored row with the one sent (missing optional values included),
so sending the same request twice leaves the same state. Rows that break the ledger's
rules give 422 with one entry per bad value (table, index, field, reason) and nothing is
stored; a batch is one transaction.
"""

from __future__ import annotations

from typing import Annotated, Any, TypeVar

from fastapi import APIRouter, Depends, Path
from pydantic import AfterValidator, BaseModel, ValidationError

from ledger.store import LedgerStore
from serving.deps import SettingsDep, StoreDep, WrittenCustomers, require_scope
from serving.errors import ApiError
from serving.ingest import IngestRejected, ingest
from serving.lanes import IngestLane
from serving.schemas.ledger import (
    MAX_ID_LENGTH,
    ActivityRecord,
    BatchResult,
    CustomerIn,
    CustomerRecord,
    InvoiceIn,
    InvoiceRecord,
    LedgerBatch,
    PaymentIn,
    PaymentRecord,
    RejectedRows,
    storable_text,
)

router = APIRouter(
    prefix="/v1",
    tags=["ledger"],
    dependencies=[Depends(require_scope("ingest")), IngestLane],
    responses={
        401: {"description": "missing, unknown or revoked API key"},
        403: {"description": "the key lacks the scope `ingest`"},
        422: {"model": RejectedRows, "description": "rows rejected; nothing was stored"},
        503: {"description": "the ledger database is unavailable"},
    },
)

PathId = Annotated[str, Path(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(storable_text)]
Record = TypeVar("Record", bound=BaseModel)


def _store_or_reject(
    store: LedgerStore, records: dict[str, list[Any]], written: set[str]
) -> dict[str, int]:
    """Ingest ``records``; once stored, their customers go in ``written`` (scored ahead)."""
    try:
        stored = ingest(store, records)
    except IngestRejected as rejected:
        errors = [error.model_dump() for error in rejected.errors]
        raise ApiError(422, str(rejected), errors=errors) from rejected
    written.update(str(row.customer_id) for rows in records.values() for row in rows)
    return stored


def _with_path_id(body: BaseModel, key: str, path_id: str, record_type: type[Record]) -> Record:
    """The body as a full record whose id is the path's; 422 when the body names another."""
    body_id = getattr(body, key)
    if body_id is not None and body_id != path_id:
        raise ApiError(
            422,
            f"the body's {key} {body_id!r} differs from the path's {path_id!r}",
            errors=[
                {
                    "field": key,
                    "reason": f"must equal the id in the path ({path_id!r}) or be left out",
                    "type": "id_mismatch",
                    "loc": ["body", key],
                }
            ],
        )
    try:
        return record_type.model_validate({**body.model_dump(), key: path_id})
    except ValidationError as error:  # both parts were valid alone: defensive only
        raise ApiError(422, f"invalid {key}: {error.errors()[0]['msg']}") from error


@router.put("/customers/{customer_id}", response_model=CustomerRecord)
def put_customer(
    customer_id: PathId, body: CustomerIn, store: StoreDep, written: WrittenCustomers
) -> CustomerRecord:
    """Create or replace one customer."""
    record = _with_path_id(body, "customer_id", customer_id, CustomerRecord)
    _store_or_reject(store, {"customers": [record]}, written)
    return record


@router.put("/invoices/{invoice_id}", response_model=InvoiceRecord)
def put_invoice(
    invoice_id: PathId, body: InvoiceIn, store: StoreDep, written: WrittenCustomers
) -> InvoiceRecord:
    """Create or replace one invoice; its customer must exist."""
    record = _with_path_id(body, "invoice_id", invoice_id, InvoiceRecord)
    _store_or_reject(store, {"invoices": [record]}, written)
    return record


@router.put("/payments/{payment_id}", response_model=PaymentRecord)
def put_payment(
    payment_id: PathId, body: PaymentIn, store: StoreDep, written: WrittenCustomers
) -> PaymentRecord:
    """Create or replace one payment; its customer (and invoice, if given) must exist."""
    record = _with_path_id(body, "payment_id", payment_id, PaymentRecord)
    _store_or_reject(store, {"payments": [record]}, written)
    return record


@router.post("/activities", response_model=ActivityRecord)
def post_activity(
    body: ActivityRecord, store: StoreDep, written: WrittenCustomers
) -> ActivityRecord:
    """Record one collection activity; posting the same activity_id again replaces it."""
    _store_or_reject(store, {"activities": [body]}, written)
    return body


@router.post(
    "/ledger/batch",
    response_model=BatchResult,
    responses={413: {"description": "more rows than max_batch_rows"}},
)
def post_batch(
    body: LedgerBatch, store: StoreDep, settings: SettingsDep, written: WrittenCustomers
) -> BatchResult:
    """Upsert rows of every table in one transaction: all of them, or none with the reasons."""
    rows = body.row_count()
    if rows > settings.max_batch_rows:
        raise ApiError(
            413,
            f"the batch has {rows} rows; at most {settings.max_batch_rows} are accepted "
            "per request: split it",
            rows=rows,
            max_batch_rows=settings.max_batch_rows,
        )
    records: dict[str, list[Any]] = {
        "customers": body.customers,
        "invoices": body.invoices,
        "payments": body.payments,
        "activities": body.activities,
    }
    return BatchResult(rows=_store_or_reject(store, records, written))
