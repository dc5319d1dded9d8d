"""``POST /v1/scores:refresh`` (scope ``admin``): score every open invoice of the ledger in
one vectorized batch and store the scores with the model's version and the time (the
worklist reads them). The response says where the time went, stage by stage.
"""

from __future__ import annotations

import time
from datetime import UTC, date, datetime

from fastapi import APIRouter, Depends

from ledger.scores_store import write_scores
from ledger.store import LedgerStore
from models.rollup import RiskTiers
from payrisk.settings import Settings
from serving.answers import model_ref, today
from serving.deps import MetricsDep, ModelDep, SettingsDep, StoreDep, require_scope
from serving.errors import ApiError
from serving.ledger_reads import read_whole_ledger
from serving.metrics import ServiceMetrics
from serving.model_holder import ModelSnapshot
from serving.routes.scores import COMMON_RESPONSES
from serving.schemas.score_requests import RefreshRequest
from serving.schemas.scores import RefreshResponse
from serving.scoring import ModelIncompatible, check_as_of, score_ledger
from serving.stored_scores import stored_rows

router = APIRouter(prefix="/v1", tags=["scores"], responses=COMMON_RESPONSES)


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
    when = check_as_of(
        ledger, as_of or today(), today=today(), max_future_days=settings.score_max_future_days
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
    rows_start = time.perf_counter()
    rows = stored_rows(scored, snapshot.name, snapshot.version)
    written_start = time.perf_counter()
    written = write_scores(store, rows, scored_at=scored_at)
    finished = time.perf_counter()
    active = scored.customers[scored.customers["open_invoices"] > 0]
    metrics.record_scores(active["risk_tier"])
    seconds = {
        "load": loaded - started,
        **scored.timings_seconds,
        "rows": written_start - rows_start,
        "store": finished - written_start,
        "total": finished - started,
    }
    return RefreshResponse(
        model=model_ref(snapshot),
        as_of=when.date(),
        scored_at=scored_at,
        invoices_scored=written,
        customers_scored=len(active),
        reasons_method=scored.reasons_method,
        seconds={stage: round(value, 4) for stage, value in seconds.items()},
        rows_per_second=written / seconds["total"] if seconds["total"] > 0 else 0.0,
    )


@router.post(
    "/scores:refresh",
    response_model=RefreshResponse,
    dependencies=[Depends(require_scope("admin"))],
)
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
