"""Typed dependencies: a route's signature says what it needs.

Those that do no I/O are ``async def``: FastAPI runs a plain ``def`` dependency in a
worker thread, and a cached scoring answer made seven such hops (plus the route's own),
which cost more CPU and latency under load than the answer itself. ``get_caller``
leaves the event loop only to look a key up in the database
(``KeyAuthenticator.trusted`` answers the rest); ``get_connection`` opens a connection,
so it stays a plain ``def``.

``SettingsDep``, ``StoreDep`` (the ledger database), ``ConnectionDep`` (a connection in a
transaction), ``ModelDep`` (the model snapshot the request runs on, 503 if none),
``MetricsDep``, ``CallerDep`` (any valid key) and ``require_scope("...")`` or its aliases
``ScoreCaller`` / ``IngestCaller`` / ``WorklistCaller`` / ``AdminCaller``.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable, Coroutine, Iterator
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.concurrency import run_in_threadpool

from ledger.store import LedgerStore, StoreUnavailable
from payrisk.settings import Settings
from serving.answer_warmer import AnswerWarmer
from serving.auth import SCOPES, Caller, KeyAuthenticator
from serving.errors import ApiError
from serving.metrics import ServiceMetrics
from serving.model_holder import ModelHolder, ModelSnapshot
from serving.ratelimit import enforce_rate_limit

HOW_TO_SEND = "send it as the header 'Authorization: Bearer <key>'"

# Only for the OpenAPI document ("Authorize" in /docs); ``get_caller`` reads the header.
bearer_scheme = HTTPBearer(
    auto_error=False,
    scheme_name="ApiKey",
    description="An API key from `payrisk keys create`, sent as `Authorization: Bearer <key>`.",
)


async def get_settings(request: Request) -> Settings:
    """The settings the app was built with."""
    settings: Settings = request.app.state.settings
    return settings


async def get_store(request: Request) -> LedgerStore:
    """The app's ledger store (one engine and pool per app)."""
    store: LedgerStore = request.app.state.store
    return store


def get_connection(store: Annotated[LedgerStore, Depends(get_store)]) -> Iterator[sa.Connection]:
    """A connection in a transaction, committed after the route returns, else rolled back."""
    try:
        connection = store.engine.connect()
    except (sa.exc.DBAPIError, OSError) as error:
        raise StoreUnavailable(f"cannot connect to {store.display_url}: {error}") from error
    with connection, connection.begin():
        yield connection


async def get_holder(request: Request) -> ModelHolder:
    """The app's model holder."""
    holder: ModelHolder = request.app.state.holder
    return holder


async def get_model(holder: Annotated[ModelHolder, Depends(get_holder)]) -> ModelSnapshot:
    """The model snapshot this request runs on; 503 when no model is loaded."""
    snapshot = holder.current()
    if snapshot is None:
        status = holder.status()
        raise ApiError(
            503,
            f"no model is loaded: {status.last_error or 'unknown reason'}",
            headers={"Retry-After": "30"},
            model=f"models:/{status.name}@{status.alias}",
        )
    return snapshot


async def get_metrics(request: Request) -> ServiceMetrics:
    """The app's Prometheus metrics."""
    metrics: ServiceMetrics = request.app.state.metrics
    return metrics


def _presented_key(authorization: str | None) -> str:
    if not authorization:
        raise ApiError(
            401,
            f"missing API key: {HOW_TO_SEND}",
            headers={"WWW-Authenticate": "Bearer"},
            error="missing_api_key",
        )
    scheme, _, key = authorization.strip().partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(
            401,
            f"malformed Authorization header: {HOW_TO_SEND}",
            headers={"WWW-Authenticate": "Bearer"},
            error="missing_api_key",
        )
    return key.strip()


async def get_caller(
    request: Request,
    _credentials: Annotated[HTTPAuthorizationCredentials | None, Security(bearer_scheme)],
) -> Caller:
    """The caller of a valid key; 401 when the key is missing, unknown or revoked, 429
    when it is over its rate limit (``serving.ratelimit``)."""
    key = _presented_key(request.headers.get("authorization"))
    authenticator: KeyAuthenticator = request.app.state.authenticator
    # A key found good moments ago is answered here; only a database lookup leaves the loop.
    caller = authenticator.trusted(key) or await run_in_threadpool(authenticator.authenticate, key)
    if caller is None:
        raise ApiError(
            401,
            "unknown or revoked API key",
            headers={"WWW-Authenticate": 'Bearer error="invalid_token"'},
            error="invalid_api_key",
        )
    # For the access log: the key's name, never the key.
    request.state.caller_name = caller.name
    enforce_rate_limit(request.app.state.rate_limiter, caller)
    return caller


def require_scope(scope: str) -> Callable[[Caller], Coroutine[Any, Any, Caller]]:
    """A dependency that lets only keys holding ``scope`` through (403 otherwise)."""
    if scope not in SCOPES:
        raise ValueError(f"unknown scope {scope!r}; known: {SCOPES}")

    async def check(caller: Annotated[Caller, Depends(get_caller)]) -> Caller:
        if scope not in caller.scopes:
            raise ApiError(
                403,
                f"this API key lacks the scope {scope!r}",
                headers={"WWW-Authenticate": f'Bearer error="insufficient_scope", scope="{scope}"'},
                error="insufficient_scope",
                required_scope=scope,
                key_scopes=sorted(caller.scopes),
            )
        return caller

    check.__name__ = f"require_{scope}_scope"
    return check


SettingsDep = Annotated[Settings, Depends(get_settings)]
StoreDep = Annotated[LedgerStore, Depends(get_store)]
ConnectionDep = Annotated[sa.Connection, Depends(get_connection)]
HolderDep = Annotated[ModelHolder, Depends(get_holder)]
ModelDep = Annotated[ModelSnapshot, Depends(get_model)]
MetricsDep = Annotated[ServiceMetrics, Depends(get_metrics)]
CallerDep = Annotated[Caller, Depends(get_caller)]
ScoreCaller = Annotated[Caller, Depends(require_scope("score"))]
IngestCaller = Annotated[Caller, Depends(require_scope("ingest"))]
WorklistCaller = Annotated[Caller, Depends(require_scope("worklist"))]
AdminCaller = Annotated[Caller, Depends(require_scope("admin"))]


async def _wake_warmer(request: Request) -> AsyncIterator[set[str]]:
    """The customers a write route wrote (it adds them once its write went through); then
    the worker's answer warmer scores them at once, before anything else, instead of at
    its next interval (``serving.answer_warmer``). A route that raises, or writes nothing,
    wakes nothing."""
    written: set[str] = set()
    yield written
    warmer: AnswerWarmer | None = getattr(request.app.state, "answer_warmer", None)
    if warmer is not None and written:
        warmer.wake(written)


# A write route's parameter: the customers it wrote. The warmer is woken when the route
# returns, before its answer is sent.
WrittenCustomers = Annotated[set[str], Depends(_wake_warmer, scope="function")]
