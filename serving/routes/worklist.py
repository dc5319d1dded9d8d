"""The worklist, AR KPIs and collector actions (scope ``worklist``; actions also ``ingest``).

``GET /v1/worklist`` ranks customers from the newest stored scores (``scores`` table)
whose ``as_of`` is on or before the requested date, with the ledger as of that date;
``?format=csv`` or ``Accept: text/csv`` exports every matching row (no paging).
``GET /v1/kpis`` computes the KPIs point in time (``serving.kpis``). Both are computed
once per database revision and served from memory until the next write
(``serving.worklist_reads``, ``serving.kpi_reads``). ``POST
/v1/customers/{id}/activities`` logs an action with its author (``serving.actions``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request
from pydantic import AfterValidator

from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.actions import Action, ActionRejected, UnknownCustomer, log_action
from serving.auth import Caller
from serving.bulk_runner import BulkRunner
from serving.deps import StoreDep, WorklistCaller, WrittenCustomers, get_caller
from serving.errors import ApiError
from serving.ingest import IngestRejected
from serving.kpi_reads import KpiQuestion, kpi_tables
from serving.kpis import __doc__ as KPI_FORMULAS
from serving.lanes import BulkLaneDep
from serving.schemas.ledger import MAX_DATE, MAX_ID_LENGTH, MIN_DATE, storable_text
from serving.schemas.worklist import ActionIn, ActionOut, KpiReport, WorklistItem, WorklistPage
from serving.worklist_filters import UnknownFilterValue, filter_worklist, known_filter_values
from serving.worklist_reads import build_worklist, csv_download, csv_text, today_utc
from serving.worklist_reads import records as _records

router = APIRouter(
    prefix="/v1",
    tags=["worklist"],
    responses={
        401: {"description": "missing, unknown or revoked API key"},
        403: {"description": "the key lacks the needed scope"},
        503: {"description": "the ledger database is unavailable"},
    },
)

ACTION_SCOPES = ("worklist", "ingest")
# Months of look-back (trend, count-back) must stay inside pandas' datetime range.
EARLIEST_AS_OF = date(MIN_DATE.year + 5, 1, 1)
AsOf = Annotated[
    date | None,
    Query(ge=EARLIEST_AS_OF, le=MAX_DATE, description="the as-of date; default today (UTC)"),
]
CustomerId = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(storable_text)
]


def _unknown_filter(error: UnknownFilterValue) -> ApiError:
    return ApiError(
        422,
        str(error),
        errors=[
            {
                "field": error.field_name,
                "reason": str(error),
                "type": "unknown_value",
                "loc": ["query", error.field_name],
            }
        ],
        allowed=error.allowed,
    )


def _page(
    chosen: pd.DataFrame,
    facts: dict[str, Any],
    settings: Settings,
    as_of: date,
    page: int,
    page_size: int,
) -> WorklistPage:
    start = (page - 1) * page_size
    notice = None if facts else "no stored scores yet: refresh the scores (POST /v1/scores:refresh)"
    return WorklistPage(
        as_of=as_of,
        reporting_currency=settings.reporting_currency,
        scored_at=facts.get("scored_at"),
        model_version=facts.get("model_version"),
        total=len(chosen),
        page=page,
        page_size=page_size,
        items=[WorklistItem(**row) for row in _records(chosen.iloc[start : start + page_size])],
        notice=notice,
    )


@router.get(
    "/worklist",
    response_model=WorklistPage,
    responses={
        200: {"content": {"text/csv": {}}, "description": "a page, or the CSV export"},
        422: {"description": "an unknown filter value (the allowed ones are listed)"},
    },
)
def get_worklist(
    request: Request,
    _caller: WorklistCaller,
    _lane: BulkLaneDep,
    collector: str | None = None,
    tier: str | None = None,
    segment: str | None = None,
    currency: str | None = None,
    country: str | None = None,
    page: Annotated[int, Query(ge=1)] = 1,
    page_size: Annotated[int, Query(ge=1, le=500)] = 50,
    as_of: AsOf = None,
    format: Literal["json", "csv"] | None = None,
) -> Any:
    """Customers ranked by expected amount at risk, with tier, reasons and next action."""
    as_of = as_of or today_utc()
    filters = {
        "collector": collector,
        "tier": tier,
        "segment": segment,
        "currency": currency,
        "country": country,
    }
    wants_csv = format == "csv" or (
        format is None and "text/csv" in request.headers.get("accept", "")
    )
    bulk: BulkRunner = request.app.state.bulk
    try:
        answer = bulk.run(_worklist_answer, as_of, filters, page, page_size, wants_csv)
    except UnknownFilterValue as error:
        raise _unknown_filter(error) from error
    return csv_download(answer, as_of) if isinstance(answer, str) else answer


def _worklist_answer(
    store: LedgerStore,
    settings: Settings,
    as_of: date,
    filters: dict[str, str | None],
    page: int,
    page_size: int,
    as_csv: bool,
) -> WorklistPage | str:
    """The worklist's page, or all its rows as CSV text (bulk work: ``serving.bulk_runner``)."""
    worklist, customers, facts = build_worklist(store, settings, as_of)
    chosen = filter_worklist(worklist, filters, known_filter_values(customers, worklist))
    if as_csv:
        return csv_text(chosen)
    return _page(chosen, facts, settings, as_of, page, page_size)


@router.get("/kpis", response_model=KpiReport)
def get_kpis(
    request: Request,
    _caller: WorklistCaller,
    _lane: BulkLaneDep,
    as_of: AsOf = None,
    group_by: Literal["collector", "segment"] | None = None,
    months: Annotated[int, Query(ge=1, le=36)] = 12,
    per_currency: bool | None = Query(
        None, description="keep currencies apart; default: yes unless fx_rates are set"
    ),
) -> KpiReport:
    """DSO (count-back and simple), CEI, ADD, aging and share current, with their trend."""
    bulk: BulkRunner = request.app.state.bulk
    return bulk.run(_kpi_report, as_of or today_utc(), group_by, months, per_currency)


def _kpi_report(
    store: LedgerStore,
    settings: Settings,
    as_of: date,
    group_by: Literal["collector", "segment"] | None,
    months: int,
    per_currency: bool | None,
) -> KpiReport:
    """The KPI report (bulk work: ``serving.bulk_runner``)."""
    separate = per_currency if per_currency is not None else not settings.fx_rates
    tables = kpi_tables(store, settings, KpiQuestion(as_of, group_by, months, separate))
    return KpiReport(
        as_of=as_of,
        group_by=group_by,
        currency_mode="per_currency" if separate else "reporting",
        reporting_currency=None if separate else settings.reporting_currency,
        formulas={"kpis": (KPI_FORMULAS or "").strip()},
        current=_records(tables.current),
        trend=_records(tables.trend),
        worklist_effect=None if tables.effect is None else _records(tables.effect),
        notice=tables.effect_notice,
    )


def require_action_scope(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
    """Keys with scope ``worklist`` or ``ingest`` may log actions (403 otherwise)."""
    if not set(ACTION_SCOPES) & set(caller.scopes):
        raise ApiError(
            403,
            "this API key lacks the scope 'worklist' or 'ingest'",
            error="insufficient_scope",
            required_scope=list(ACTION_SCOPES),
            key_scopes=sorted(caller.scopes),
        )
    return caller


@router.post(
    "/customers/{customer_id}/activities",
    response_model=ActionOut,
    status_code=201,
    responses={404: {"description": "unknown customer"}, 422: {"description": "invalid action"}},
)
def post_action(
    customer_id: CustomerId,
    body: ActionIn,
    store: StoreDep,
    caller: Annotated[Caller, Depends(require_action_scope)],
    written: WrittenCustomers,
) -> ActionOut:
    """Log a call, promise to pay, dispute, note or reassignment; stored with its author."""
    today = today_utc()
    action = Action(customer_id=customer_id, **{**body.model_dump(), "date": body.date or today})
    try:
        stored = log_action(store, action, caller.name, today)
    except UnknownCustomer as error:
        raise ApiError(404, str(error)) from error
    except ActionRejected as error:
        problems = [
            {"field": field, "reason": reason, "type": "value_error", "loc": ["body", field]}
            for field, reason in error.problems
        ]
        raise ApiError(422, f"invalid action: {error}", errors=problems) from error
    except IngestRejected as error:
        raise ApiError(422, str(error), errors=[e.model_dump() for e in error.errors]) from error
    written.add(customer_id)
    return ActionOut(**stored)
