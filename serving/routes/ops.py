"""Operations: ``/healthz`` (process up), ``/readyz`` (database and model), ``/metrics``.

No API key: an orchestrator's probes and a Prometheus scraper call these. ``/readyz`` is
503 with the reasons until the database is reachable at the newest schema and a model is
loaded; once a model serves, a failed reload shows as ``model.last_error`` while the old
version keeps serving (still ready).
"""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from fastapi import APIRouter, Response
from pydantic import BaseModel, Field

from ledger import migrations
from ledger.store import LedgerStore, StoreError
from serving.deps import HolderDep, MetricsDep, StoreDep
from serving.metrics import EXPOSITION_CONTENT_TYPE

router = APIRouter(tags=["operations"])


class Health(BaseModel):
    """The process answers."""

    status: Literal["ok"] = "ok"


class DatabaseReadiness(BaseModel):
    """Whether the ledger database answers at the schema this payrisk needs."""

    ok: bool
    revision: str | None = None
    expected_revision: str
    error: str | None = None


class ModelReadiness(BaseModel):
    """Which model serves, and the last reload error if any."""

    ok: bool
    name: str
    alias: str
    version: str | None = None
    run_id: str | None = None
    loaded_at: datetime | None = None
    last_error: str | None = Field(None, description="why the last load or reload failed")
    reload_failures: int = 0


class Readiness(BaseModel):
    """Ready when both the database and a model are."""

    ready: bool
    reasons: list[str]
    database: DatabaseReadiness
    model: ModelReadiness


@router.get("/healthz", response_model=Health)
def healthz() -> Health:
    """The process is up (says nothing about the database or the model)."""
    return Health()


def _database_readiness(store: LedgerStore) -> DatabaseReadiness:
    expected = migrations.head_revision()
    try:
        revision = store.revision()
    except StoreError as error:
        return DatabaseReadiness(ok=False, expected_revision=expected, error=str(error))
    if revision != expected:
        problem = f"schema revision is {revision or 'none'}, this payrisk needs {expected}"
        return DatabaseReadiness(
            ok=False, revision=revision, expected_revision=expected, error=problem
        )
    return DatabaseReadiness(ok=True, revision=revision, expected_revision=expected)


@router.get(
    "/readyz",
    response_model=Readiness,
    responses={503: {"model": Readiness, "description": "not ready; see reasons"}},
)
def readyz(store: StoreDep, holder: HolderDep, response: Response) -> Readiness:
    """Ready to serve: database reachable at the newest schema, and a model loaded."""
    database = _database_readiness(store)
    status = holder.status()
    snapshot = status.snapshot
    model = ModelReadiness(
        ok=snapshot is not None,
        name=status.name,
        alias=status.alias,
        version=status.version,
        run_id=status.run_id,
        loaded_at=None if snapshot is None else snapshot.loaded_at,
        last_error=status.last_error,
        reload_failures=status.reload_failures,
    )
    reasons = []
    if not database.ok:
        reasons.append(f"database: {database.error}")
    if not model.ok:
        reasons.append(f"model: {model.last_error or 'not loaded'}")
    if reasons:
        response.status_code = 503
    return Readiness(ready=not reasons, reasons=reasons, database=database, model=model)


@router.get(
    "/metrics",
    response_class=Response,
    responses={200: {"content": {"text/plain": {}}, "description": "Prometheus text format"}},
)
def metrics(service_metrics: MetricsDep) -> Response:
    """Every metric in the Prometheus text exposition format."""
    return Response(service_metrics.exposition(), media_type=EXPOSITION_CONTENT_TYPE)
