"""Scoring (scope ``score``): stored mode, one customer or many, and stateless mode.

Stored mode reads only the asked customers' rows (``serving.ledger_reads``); stateless
mode takes the caller's rows through the import's rules and stores nothing; both go
through ``serving.scoring.score_ledger``, so the same history gives the same numbers.
``POST /v1/scores`` answers 200 whenever the request itself is valid: each id is either
in ``customers`` or in ``errors`` (404 unknown, 422 as_of before its data).

``GET /v1/customers/{id}/risk`` is the hot path. It is ``async``: a cached answer
(``serving.answer_cache``) is found on the event loop when that needs no query, else
with one hop to a worker thread; then among the answers the other workers shared
(``serving.shared_answers``). A miss waits when that very answer is being computed, by
the worker's answer warmer (``serving.answer_warmer``) or by another worker; else it
joins the worker's micro-batch (``serving.micro_batch``,
``serving.answers.score_misses``), which computes in a thread.
The refresh lives in ``serving.routes.refresh``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date
from typing import Annotated, Any

import pandas as pd
from fastapi import APIRouter, Depends, Path, Query, Request, Response
from pydantic import AfterValidator
from starlette.concurrency import run_in_threadpool
from starlette.datastructures import State

from ledger.frames import Ledger
from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.answer_cache import (
    AnswerCache,
    CachedAnswer,
    current_revision,
    get_score_cache,
    known_revision,
    revision_is_local,
)
from serving.answer_warmer import AnswerWarmer, served_by
from serving.answers import customer_answer, model_ref, score, score_misses, today
from serving.deps import MetricsDep, ModelDep, SettingsDep, StoreDep, get_model, require_scope
from serving.errors import ApiError
from serving.history import sent_history
from serving.ledger_reads import CustomerRevision, read_customers
from serving.metrics import ServiceMetrics
from serving.micro_batch import MicroBatcher
from serving.model_holder import ModelSnapshot
from serving.per_loop import PerLoop
from serving.schemas.ledger import MAX_ID_LENGTH, RejectedRows, storable_text
from serving.schemas.score_requests import ScoresRequest, StatelessRequest
from serving.schemas.scores import (
    DEFAULT_LANG,
    CustomerRisk,
    CustomerRiskResponse,
    Lang,
    ScoreError,
    ScoresResponse,
)
from serving.scoring import check_as_of, data_start_by_customer

# Misses of one worker scored together, at most this many customers per batch: enough to
# spread the fixed cost of a scoring call, small enough that a batch takes tens of ms.
MAX_MISS_BATCH = 32
# How long a miss that finds the batcher idle waits for others (``serving.micro_batch``):
# small beside the ~45-70 ms of CPU that scoring even one customer costs.
MAX_MISS_WAIT_SECONDS = 0.005

# How long a miss waits for another worker that is computing its very answer
# (``serving.shared_answers``) before it computes the answer itself.
LONGEST_WAIT_ELSEWHERE_SECONDS = 0.5

# Whether the answer came from the answer cache ("hit") or was computed ("miss").
CACHE_HEADER = "X-Payrisk-Cache"

COMMON_RESPONSES: dict[int | str, dict[str, Any]] = {
    401: {"description": "missing, unknown or revoked API key"},
    403: {"description": "the key lacks the route's scope"},
    422: {"description": "invalid request, or as_of out of range (before the data, too far ahead)"},
    503: {"description": "no model loaded, or the ledger database is unavailable"},
}
router = APIRouter(prefix="/v1", tags=["scores"], responses=COMMON_RESPONSES)
ScoreScope = Depends(require_scope("score"))

CustomerPathId = Annotated[
    str, Path(min_length=1, max_length=MAX_ID_LENGTH), AfterValidator(storable_text)
]
AsOfQuery = Annotated[date | None, Query(description="YYYY-MM-DD; default: today (UTC)")]
LangQuery = Annotated[Lang, Query(description="language of the reasons")]


@dataclass(frozen=True)
class StoredMode:
    """What the hot route needs, gathered by one dependency instead of six: resolving
    FastAPI dependencies took about half the CPU of a cached answer (profiled)."""

    store: LedgerStore
    settings: Settings
    metrics: ServiceMetrics
    snapshot: ModelSnapshot
    cache: AnswerCache
    batcher: MicroBatcher[str, CachedAnswer]
    warmer: AnswerWarmer | None  # the worker's: what it re-scores after a change


async def get_stored_mode(request: Request) -> StoredMode:
    """The app's store, settings, metrics, caches and the model snapshot (503 if none)."""
    state = request.app.state
    return StoredMode(
        store=state.store,
        settings=state.settings,
        metrics=state.metrics,
        snapshot=await get_model(state.holder),
        cache=await get_score_cache(request),
        batcher=_batcher(state),
        warmer=getattr(state, "answer_warmer", None),
    )


def _batcher(state: State) -> MicroBatcher[str, CachedAnswer]:
    """The micro-batcher of stored-mode misses of the running loop, made on first use (a
    batch's futures belong to one loop: ``serving.per_loop``)."""
    if getattr(state, "miss_batchers", None) is None:
        state.miss_batchers = PerLoop(lambda: MicroBatcher(MAX_MISS_BATCH, MAX_MISS_WAIT_SECONDS))
    batchers: PerLoop[MicroBatcher[str, CachedAnswer]] = state.miss_batchers
    return batchers.get()


@router.get(
    "/customers/{customer_id}/risk",
    response_model=CustomerRiskResponse,
    dependencies=[ScoreScope],
    responses={404: {"description": "no such customer in the ledger"}},
)
async def customer_risk(
    customer_id: CustomerPathId,
    mode: Annotated[StoredMode, Depends(get_stored_mode)],
    as_of: AsOfQuery = None,
    lang: LangQuery = DEFAULT_LANG,
) -> Response:
    """A stored customer's risk as of a date: every open invoice and the roll-up, with reasons.

    Answers are cached per (model, as_of, lang, the customer's revision): asking again
    about an unchanged customer costs at most one small query; any ingest that changes
    its rows, in any worker, scores it afresh (``serving.score_cache``). The header
    ``X-Payrisk-Cache`` says which: ``hit`` or ``miss``.
    """
    when, snapshot, cache = as_of or today(), mode.snapshot, mode.cache
    key = (*served_by(snapshot), when, lang, customer_id)
    revision = await _revision(mode, customer_id) if cache.enabled else None
    answer = cache.answer(key, revision) if revision is not None else None
    cached = answer is not None
    if answer is None and revision is not None and mode.warmer is not None:
        answer = await _warmed_meanwhile(mode.warmer, key, revision)
    if answer is None and revision is not None:
        answer = await cache.computed_elsewhere(key, revision, LONGEST_WAIT_ELSEWHERE_SECONDS)
    if answer is None:
        answer = await mode.batcher.submit(
            key[:5],
            customer_id,
            lambda misses: score_misses(mode.store, snapshot, mode.settings, when, lang, misses),
        )
        cache.keep(key, revision, answer)
    if mode.warmer is not None:
        mode.warmer.asked.note(key[:5], customer_id)
    mode.metrics.record_scores([answer[0]])
    # the body is already JSON of a CustomerRiskResponse: no second validation
    return Response(
        content=answer[1],
        media_type="application/json",
        headers={CACHE_HEADER: "hit" if cached else "miss"},
    )


async def _warmed_meanwhile(
    warmer: AnswerWarmer, key: tuple[Any, ...], revision: CustomerRevision
) -> CachedAnswer | None:
    """The answer, when the worker's warmer is computing exactly it right now (this
    customer at this revision): wait for that instead of computing it again."""
    question, customer_id = key[:5], key[5]
    warming = warmer.warming(question, customer_id, revision)
    return None if warming is None else await asyncio.shield(warming)


async def _revision(mode: StoredMode, customer_id: str) -> CustomerRevision:
    """The customer's revision: on the event loop when no query is needed, else in a thread."""
    revisions = mode.cache.revisions
    if revision_is_local(mode.store):
        known = known_revision(mode.store, revisions, customer_id)
        if known is not None:
            return known
    return await run_in_threadpool(current_revision, mode.store, revisions, customer_id)


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
    when = check_as_of(
        Ledger.from_frames(),
        body.as_of or today(),
        today=today(),
        max_future_days=settings.score_max_future_days,
    )
    ledger = read_customers(store, ids)
    errors = _batch_errors(ledger, ids, when)
    refused = {error.customer_id for error in errors}
    scorable = [customer_id for customer_id in ids if customer_id not in refused]
    scored = score(snapshot, ledger, when, scorable, body.lang, settings)
    metrics.record_scores(scored.customers["risk_tier"])
    return ScoresResponse(
        model=model_ref(snapshot),
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
    answer = customer_answer(snapshot, settings, ledger, customer_id, body.as_of, body.lang)
    metrics.record_scores([answer.customer.risk_tier])
    return answer
