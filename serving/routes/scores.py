"""Scoring (scope ``score``) and the stored-scores refresh (scope ``admin``).

Stored mode reads only the asked customers' rows (``serving.ledger_reads``); stateless
mode takes the caller's rows through the import's rules and stores nothing; both go
through ``serving.scoring.score_ledger``, so the same history gives the same numbers.
``POST /v1/scores`` answers 200 whenever the request itself is valid: each id is either
in ``customers`` or in ``errors`` (404 unknown, 422 as_of before its data).
"""

from __future__ import annotations

import time
from collections.abc import Hashable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator

from ledger.frames import Ledger
from ledger.scores_store import write_scores
from ledger.store import LedgerStore
from models.rollup import RiskTiers
from payrisk.settings import Settings
from serving.deps import MetricsDep, ModelDep, SettingsDep, StoreDep, require_scope
from serving.errors import ApiError
from serving.history import sent_history
from serving.ledger_cache import ledger_cache
from serving.ledger_reads import (
    CustomerRevision,
    read_customer_revision,
    read_customer_rows_at,
    read_customers,
    read_whole_ledger,
)
from serving.metrics import ServiceMetrics
from serving.model_holder import ModelSnapshot
from serving.schemas.ledger import MAX_ID_LENGTH, RejectedRows, storable_text
from serving.schemas.scores import (
    CustomerRisk,
    CustomerRiskResponse,
    Lang,
    ModelRef,
    RefreshRequest,
    RefreshResponse,
    ScoreError,
    ScoresRequest,
    ScoresResponse,
    StatelessRequest,
)
from serving.score_cache import ScoreCache
from serving.scoring import (
    ModelIncompatible,
    Scored,
    check_as_of,
    data_start_by_customer,
    score_ledger,
)
from serving.stored_scores import stored_rows

_COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, unknown or revoked API key"},
    403: {"description": "the key lacks the route's scope"},
    422: {"description": "invalid request, or as_of out of range (before the data, too far ahead)"},
    503: {"description": "no model loaded, or the ledger database is unavailable"},
}
router = APIRouter(prefix="/v1", tags=["scores"], responses=_COMMON_RESPONSES)
ScoreScope = Depends(require_scope("score"))
AdminScope = Depends(require_scope("admin"))

CustomerPathId = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(storable_text)
]
AsOfQuery = Annotated[date | None, Query(description="YYYY-MM-DD; default: today (UTC)")]
LangQuery = Annotated[Lang, Query(description="language of the reasons")]


CachedAnswer = tuple[str | None, bytes]  # (risk tier, the JSON body)


@dataclass(frozen=True)
class AnswerCache:
    """The answers (``app.state.score_cache``) and, per customer, its last revision read
    with the database's revision at that moment (``app.state.customer_revisions``)."""

    answers: ScoreCache[CachedAnswer]
    revisions: ScoreCache[tuple[Hashable, CustomerRevision]]


async def get_score_cache(request: Request) -> AnswerCache:
    """The app's cache of stored-mode answers, made on first use.

    ``async`` only so that FastAPI runs it on the event loop, not in a worker thread.
    """
    state = request.app.state
    if getattr(state, "score_cache", None) is None:
        settings: Settings = state.settings
        entries, max_age = settings.score_cache_entries, settings.score_cache_max_age_seconds
        state.customer_revisions = ScoreCache(entries, max_age)
        state.score_cache = ScoreCache(entries, max_age)
    return AnswerCache(state.score_cache, state.customer_revisions)


ScoreCacheDep = Annotated[AnswerCache, Depends(get_score_cache)]


def _today() -> date:
    return datetime.now(UTC).date()


def _model_ref(snapshot: ModelSnapshot) -> ModelRef:
    return ModelRef(name=snapshot.name, version=snapshot.version)


def _score(
    snapshot: ModelSnapshot,
    ledger: Ledger,
    as_of: pd.Timestamp,
    ids: Sequence[str],
    lang: Lang,
    settings: Settings,
) -> Scored:
    tiers = RiskTiers.from_settings(settings)
    method = settings.score_reasons_method
    try:
        return score_ledger(
            snapshot.model, ledger, as_of, ids, langs=(lang,), method=method, tiers=tiers
        )
    except ModelIncompatible as error:
        raise ApiError(503, str(error), model=snapshot.model_uri) from error


def _customer_answer(
    snapshot: ModelSnapshot,
    settings: Settings,
    ledger: Ledger,
    customer_id: str,
    as_of: date | None,
    lang: Lang,
) -> CustomerRiskResponse:
    """One customer's risk from its ledger rows (stored or sent)."""
    when = check_as_of(
        ledger, as_of or _today(), today=_today(), max_future_days=settings.score_max_future_days
    )
    scored = _score(snapshot, ledger, when, [customer_id], lang, settings)
    return CustomerRiskResponse(
        model=_model_ref(snapshot),
        as_of=when.date(),
        lang=lang,
        reasons_method=scored.reasons_method,
        customer=CustomerRisk.from_scored(scored, 0, lang),
    )


@router.get(
    "/customers/{customer_id}/risk",
    response_model=CustomerRiskResponse,
    dependencies=[ScoreScope],
    responses={404: {"description": "no such customer in the ledger"}},
)
def customer_risk(
    customer_id: CustomerPathId,
    store: StoreDep,
    snapshot: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    cache: ScoreCacheDep,
    as_of: AsOfQuery = None,
    lang: LangQuery = "en",
) -> Response:
    """A stored customer's risk as of a date: every open invoice and the roll-up, with reasons.

    Answers are cached per (model, as_of, lang, the customer's revision): asking again
    about an unchanged customer costs one small query; any ingest that changes its rows,
    in any worker, scores it afresh (``serving.score_cache``).
    """
    when = as_of or _today()
    key = (snapshot.name, snapshot.version, snapshot.loaded_at, when, lang, customer_id)
    cached = _cached_answer(store, cache, key) if cache.answers.max_entries > 0 else None
    if cached is None:
        rows, revision = read_customer_rows_at(store, customer_id)
        if not revision.exists:
            raise ApiError(
                404, f"no customer {customer_id!r} in the ledger", customer_id=customer_id
            )
        answer = _customer_answer(snapshot, settings, rows.ledger(), customer_id, when, lang)
        cached = (answer.customer.risk_tier, answer.model_dump_json().encode())
        if revision.settled:
            cache.answers.put((*key, revision.tables), cached)
    metrics.record_scores([cached[0]])
    # the body is already JSON of a CustomerRiskResponse: no second validation
    return Response(content=cached[1], media_type="application/json")


def _current_revision(
    store: LedgerStore, revisions: ScoreCache[tuple[Hashable, CustomerRevision]], customer_id: str
) -> CustomerRevision:
    """The customer's revision, without its query while nothing at all was committed to
    the database since it was last read (``serving.ledger_cache``'s database revision,
    read *before* the customer's, so a commit in between forces a new read)."""
    database = ledger_cache(store).revision()
    known = revisions.get(customer_id)
    if known is not None and known[0] == database:
        return known[1]
    revision = read_customer_revision(store, customer_id)
    if revision.settled:
        revisions.put(customer_id, (database, revision))
    return revision


def _cached_answer(
    store: LedgerStore, cache: AnswerCache, key: tuple[object, ...]
) -> CachedAnswer | None:
    """The cached answer for ``key`` at the customer's current revision, if any (404 when
    the customer does not exist)."""
    customer_id = str(key[-1])
    revision = _current_revision(store, cache.revisions, customer_id)
    if not revision.exists:
        raise ApiError(404, f"no customer {customer_id!r} in the ledger", customer_id=customer_id)
    return cache.answers.get((*key, revision.tables)) if revision.settled else None


def _batch_errors(ledger: Ledger, ids: Sequence[str], as_of: pd.Timestamp) -> list[ScoreError]:
    known = set(ledger.customers["customer_id"].astype(str))
    starts = data_start_by_customer(ledger)
    errors = []
    for customer_id in ids:
        start = starts.get(customer_id)
        if customer_id not in known:
            errors.append(
                ScoreError(customer_id=customer_id, status=404, detail="not in the ledger")
            )
        elif start is not None and pd.notna(start) and as_of < start:
            detail = f"as_of {as_of.date()} is before the customer's first date {start.date()}"
            errors.append(ScoreError(customer_id=customer_id, status=422, detail=detail))
    return errors


def _many_customers(
    store: LedgerStore,
    snapshot: ModelSnapshot,
    settings: Settings,
    metrics: ServiceMetrics,
    body: ScoresRequest,
) -> ScoresResponse:
    ids = list(dict.fromkeys(body.customer_ids))
    if len(ids) > settings.max_score_customers:
        raise ApiError(
            413,
            f"{len(ids)} customer ids; at most {settings.max_score_customers} per request: "
            "split them",
            customers=len(ids),
            max_score_customers=settings.max_score_customers,
        )
    today = _today()
    when = check_as_of(
        Ledger.from_frames(),
        body.as_of or today,
        today=today,
        max_future_days=settings.score_max_future_days,
    )
    ledger = read_customers(store, ids)
    errors = _batch_errors(ledger, ids, when)
    refused = {error.customer_id for error in errors}
    scorable = [customer_id for customer_id in ids if customer_id not in refused]
    scored = _score(snapshot, ledger, when, scorable, body.lang, settings)
    metrics.record_scores(scored.customers["risk_tier"])
    return ScoresResponse(
        model=_model_ref(snapshot),
        as_of=when.date(),
        lang=body.lang,
        reasons_method=scored.reasons_method,
        customers=[CustomerRisk.from_scored(scored, i, body.lang) for i in range(len(scorable))],
        errors=errors,
    )


@router.post(
    "/scores",
    response_model=ScoresResponse,
    dependencies=[ScoreScope],
    responses={413: {"description": "more customer ids than max_score_customers"}},
)
def score_customers(
    body: ScoresRequest,
    store: StoreDep,
    snapshot: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
) -> ScoresResponse:
    """Several stored customers' risk as of one date, each as ``GET .../risk`` would answer."""
    return _many_customers(store, snapshot, settings, metrics, body)


@router.post(
    "/scores:stateless",
    response_model=CustomerRiskResponse,
    dependencies=[ScoreScope],
    responses={
        413: {"description": "more rows than max_batch_rows"},
        422: {"model": RejectedRows, "description": "rows rejected by the ledger's rules"},
    },
)
def score_stateless(
    body: StatelessRequest, snapshot: ModelDep, settings: SettingsDep, metrics: MetricsDep
) -> CustomerRiskResponse:
    """A customer's risk from the history in the request; nothing is stored."""
    ledger = sent_history(body, settings.max_batch_rows)
    customer_id = body.customer.customer_id
    answer = _customer_answer(snapshot, settings, ledger, customer_id, body.as_of, body.lang)
    metrics.record_scores([answer.customer.risk_tier])
    return answer


def _refresh(
    store: LedgerStore,
    snapshot: ModelSnapshot,
    settings: Settings,
    metrics: ServiceMetrics,
    as_of: date | None,
) -> RefreshResponse:
    started = time.perf_counter()
    ledger = read_whole_ledger(store)
    loaded = time.perf_counter()
    today = _today()
    when = check_as_of(
        ledger, as_of or today, today=today, max_future_days=settings.score_max_future_days
    )
    try:
        scored = score_ledger(
            snapshot.model,
            ledger,
            when,
            ledger.customers["customer_id"].tolist(),
            langs=("en", "he"),
            method="path",
            tiers=RiskTiers.from_settings(settings),
        )
    except ModelIncompatible as error:
        raise ApiError(503, str(error), model=snapshot.model_uri) from error
    scored_at = datetime.now(UTC)
    written_start = time.perf_counter()
    rows = write_scores(
        store, stored_rows(scored, snapshot.name, snapshot.version), scored_at=scored_at
    )
    finished = time.perf_counter()
    active = scored.customers[scored.customers["open_invoices"] > 0]
    metrics.record_scores(active["risk_tier"])
    seconds = {
        "load": loaded - started,
        **scored.timings_seconds,
        "store": finished - written_start,
        "total": finished - started,
    }
    return RefreshResponse(
        model=_model_ref(snapshot),
        as_of=when.date(),
        scored_at=scored_at,
        invoices_scored=rows,
        customers_scored=len(active),
        reasons_method=scored.reasons_method,
        seconds={stage: round(value, 4) for stage, value in seconds.items()},
        rows_per_second=rows / seconds["total"] if seconds["total"] > 0 else 0.0,
    )


@router.post("/scores:refresh", response_model=RefreshResponse, dependencies=[AdminScope])
def refresh_scores(
    store: StoreDep,
    snapshot: ModelDep,
    settings: SettingsDep,
    metrics: MetricsDep,
    body: RefreshRequest | None = None,
) -> RefreshResponse:
    """Score every open invoice of the ledger in one batch and store the scores (one transaction).

    Reasons use the fast path approximation (``models.explain.path_contributions``):
    exact SHAP for a whole ledger is too slow for a refresh.
    """
    return _refresh(store, snapshot, settings, metrics, body.as_of if body else None)
