"""The app factory: ``create_app(settings)`` builds the whole service; nothing at import.

Building the app connects to nothing. The lifespan migrates the ledger database (when
``migrate_on_start``), loads the served model and starts its poller; a missing model or
an unreachable database does not stop the start: ``/readyz`` says what is missing until
it is there. ``payrisk serve`` runs ``uvicorn serving.app:create_app --factory``.
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import sys
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

from fastapi import FastAPI
from starlette.concurrency import run_in_threadpool

from ledger.store import ConnectionLimits, LedgerStore, StoreError
from models.pyfunc import payrisk_version
from payrisk.settings import Settings
from serving.answer_cache import answer_cache_for
from serving.answer_warmer import AnswerWarmer
from serving.auth import KeyAuthenticator
from serving.bulk_runner import BulkRunner
from serving.errors import install_error_handlers
from serving.lanes import Lane
from serving.logs import configure_logging
from serving.metrics import ServiceMetrics
from serving.middleware import RequestContextMiddleware
from serving.model_holder import ModelHolder
from serving.ratelimit import RateLimiter
from serving.routes import ingest, model, ops, refresh, scores, worklist
from serving.web import routes as web_pages

logger = logging.getLogger("serving.app")

DESCRIPTION = """\
Late-payment risk for accounts receivable: keep the ledger up to date (`ingest`), ask how
risky a customer or an invoice is and why (`score`), read the worklist (`worklist`).
Every `/v1` route needs an API key (`payrisk keys create`) sent as
`Authorization: Bearer <key>`; errors are JSON with a `detail`.
"""


def _start(app: FastAPI) -> None:
    settings: Settings = app.state.settings
    store: LedgerStore = app.state.store
    if settings.migrate_on_start:
        try:
            revision = store.migrate()
            logger.info("database ready", extra={"fields": {"revision": revision}})
        except StoreError as error:
            # Not fatal: /readyz reports it and requests get 503 until the database is back.
            logger.warning("database not ready", extra={"fields": {"error": str(error)}})
    outcome = app.state.holder.start()
    app.state.bulk.start()
    logger.info(
        "service started",
        extra={
            "fields": {
                "model_outcome": outcome.outcome,
                "model_version": outcome.serving_version,
                "model_error": outcome.error,
                "database": store.display_url,
            }
        },
    )


def _stop(app: FastAPI) -> None:
    app.state.holder.stop()
    app.state.bulk.close()
    app.state.store.dispose()
    if getattr(app.state, "shared_answers", None) is not None:
        app.state.shared_answers.close()


def _freeze_heap() -> None:
    """Move everything alive after the start (modules, the model, pandas, MLflow: about
    380,000 objects) out of the garbage collector's sight.

    Without it every full collection walks that heap again: 340-430 ms with the GIL held
    on the bench machine (loaded), which stalls every request of the worker and made the
    p99 of cached answers about 30 times their median. Those objects live as long as the
    worker anyway; a model loaded later is simply collected as before.
    """
    gc.collect()
    gc.freeze()


def _start_warmer(app: FastAPI) -> asyncio.Task[None] | None:
    """The worker's refresh-ahead of answers (``serving.answer_warmer``), unless it is off."""
    settings: Settings = app.state.settings
    cache = answer_cache_for(app.state)
    if settings.score_warm_seconds <= 0 or not cache.enabled:
        return None
    warmer = AnswerWarmer(
        app.state.store, app.state.holder, cache, settings, settings.score_warm_seconds
    )
    app.state.answer_warmer = warmer
    return asyncio.create_task(warmer.run())


@asynccontextmanager
async def _lifespan(app: FastAPI) -> AsyncIterator[None]:
    # Migrating and loading a model block: keep them off the event loop.
    await run_in_threadpool(_start, app)
    _freeze_heap()
    sys.setswitchinterval(app.state.settings.thread_switch_seconds)
    warming = _start_warmer(app)
    try:
        yield
    finally:
        if warming is not None:
            warming.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await warming
        await run_in_threadpool(_stop, app)


def service_store(settings: Settings) -> LedgerStore:
    """The ledger store the service uses, with its connection limits (connects lazily)."""
    limits = ConnectionLimits(
        connect_timeout_seconds=settings.db_connect_timeout_seconds,
        statement_timeout_seconds=settings.db_statement_timeout_seconds,
        pool_timeout_seconds=settings.db_pool_timeout_seconds,
    )
    return LedgerStore.from_url(settings.resolved_database_url, limits)


def create_app(settings: Settings | None = None) -> FastAPI:
    """The payrisk API for ``settings`` (default: from the environment, ``PAYRISK_*``)."""
    settings = settings if settings is not None else Settings()
    configure_logging(settings.log_level)
    store = service_store(settings)
    holder = ModelHolder(
        tracking_uri=settings.resolved_tracking_uri,
        model_name=settings.registered_model_name,
        alias=settings.model_alias,
        poll_seconds=settings.model_poll_seconds,
    )
    metrics = ServiceMetrics()
    metrics.watch_model(holder.status)

    app = FastAPI(
        title="payrisk",
        version=payrisk_version(),
        description=DESCRIPTION,
        lifespan=_lifespan,
    )
    app.state.settings = settings
    app.state.store = store
    app.state.holder = holder
    app.state.metrics = metrics
    app.state.bulk = BulkRunner(app.state)
    app.state.authenticator = KeyAuthenticator(store, settings.api_key_cache_seconds)
    lanes = {
        "bulk": Lane("bulk", settings.bulk_lane_size),
        "ingest": Lane("ingest", settings.ingest_lane_size),
    }
    app.state.lanes = lanes
    metrics.watch_lanes(lambda: {name: lane.waiting for name, lane in lanes.items()})
    app.state.rate_limiter = RateLimiter(settings.rate_limit_per_second, settings.rate_limit_burst)
    install_error_handlers(app)
    app.add_middleware(
        RequestContextMiddleware, metrics=metrics, max_body_bytes=settings.max_body_bytes
    )
    for module in (ops, ingest, scores, refresh, model, worklist):
        app.include_router(module.router)
    app.include_router(web_pages.router)
    return app
