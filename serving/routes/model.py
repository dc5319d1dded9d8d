"""The served model: which version answers and how it tested (scope ``score``); reload now
(scope ``admin``); its health, drift and realized performance (scope ``score``).

The test metrics come from the version's MLflow run, read once per (tracking store, run)
and kept for the life of the process: a finished run's metrics never change, so the
registry is not asked again on every ``GET /v1/model``. If the registry cannot be read,
the answer still names the version and says why the metrics are missing.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field

from serving.admin_audit import record_api_action
from serving.deps import (
    AdminCaller,
    HolderDep,
    ModelDep,
    SettingsDep,
    StoreDep,
    require_scope,
)
from serving.errors import ApiError
from serving.model_health import ModelHealth, model_health
from serving.model_holder import ModelHolder, ModelSnapshot

router = APIRouter(
    prefix="/v1",
    tags=["model"],
    responses={
        401: {"description": "missing, unknown or revoked API key"},
        403: {"description": "the key lacks the route's scope"},
    },
)
# Metric names of the model's own test results in a training run: test.model.<metric>
_TEST_PREFIX = "test.model."


@dataclass(frozen=True)
class RunFacts:
    """What the model's training run says: when it ran and its test metrics."""

    trained_at: datetime | None
    test_metrics: dict[str, float]
    error: str | None = None


_RUN_FACTS: dict[tuple[str, str], RunFacts] = {}
_RUN_FACTS_LOCK = threading.Lock()


def run_facts(holder: ModelHolder, run_id: str | None) -> RunFacts:
    """The run's start time and ``test.model.*`` metrics, cached per (tracking URI, run id)."""
    if run_id is None:
        return RunFacts(None, {}, "the model version has no training run")
    key = (holder.tracking_uri, run_id)
    with _RUN_FACTS_LOCK:
        cached = _RUN_FACTS.get(key)
    if cached is not None:
        return cached
    try:
        run = holder.registry_client().get_run(run_id)
    except Exception as error:  # any registry failure: answer without metrics, retry later
        reason = (str(error).strip().splitlines() or [repr(error)])[0][:300]
        return RunFacts(None, {}, f"cannot read run {run_id}: {reason}")
    metrics = {
        name.removeprefix(_TEST_PREFIX): float(value)
        for name, value in sorted(run.data.metrics.items())
        if name.startswith(_TEST_PREFIX)
    }
    started = run.info.start_time
    facts = RunFacts(
        trained_at=None if started is None else datetime.fromtimestamp(started / 1000, UTC),
        test_metrics=metrics,
    )
    with _RUN_FACTS_LOCK:
        _RUN_FACTS[key] = facts
    return facts


class ModelInfo(BaseModel):
    """The model version serving now."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "name": "payment-risk",
                    "alias": "champion",
                    "version": "3",
                    "model_uri": "models:/payment-risk/3",
                    "run_id": "4f1c0e2a9b7d4c35a1e0f3b2c6d8e9f0",
                    "registered_at": "2026-12-01T08:00:00Z",
                    "trained_at": "2026-12-01T07:58:12Z",
                    "loaded_at": "2026-12-04T06:00:03Z",
                    "feature_code_version": "a1b2c3d4e5f6",
                    "buckets": ["on_time", "late_1_30", "late_31_60", "late_61_90", "late_over_90"],
                    "test_metrics": {"roc_auc_late": 0.81, "brier_late": 0.17},
                    "metrics_error": None,
                }
            ]
        }
    )

    name: str
    alias: str
    version: str
    model_uri: str
    run_id: str | None
    registered_at: datetime | None
    trained_at: datetime | None = Field(description="start of the training run")
    loaded_at: datetime
    feature_code_version: str
    buckets: list[str]
    test_metrics: dict[str, float] = Field(description="the model's metrics on the test period")
    metrics_error: str | None = Field(None, description="why test_metrics is empty, if it is")

    @classmethod
    def of(cls, snapshot: ModelSnapshot, facts: RunFacts) -> ModelInfo:
        """From the served snapshot and its run's facts."""
        card = snapshot.model.card
        return cls(
            name=snapshot.name,
            alias=snapshot.alias,
            version=snapshot.version,
            model_uri=snapshot.model_uri,
            run_id=snapshot.run_id,
            registered_at=snapshot.registered_at,
            trained_at=facts.trained_at,
            loaded_at=snapshot.loaded_at,
            feature_code_version=card.feature_code_version,
            buckets=list(card.buckets.labels),
            test_metrics=facts.test_metrics,
            metrics_error=facts.error,
        )


class ReloadResult(BaseModel):
    """What a reload did and which version serves now."""

    outcome: Literal["loaded", "unchanged", "failed", "skipped"]
    serving_version: str | None
    previous_version: str | None
    attempted_version: str | None
    error: str | None = None


@router.get(
    "/model",
    response_model=ModelInfo,
    dependencies=[Depends(require_scope("score"))],
    responses={503: {"description": "no model is loaded"}},
)
def model_info(snapshot: ModelDep, holder: HolderDep) -> ModelInfo:
    """Which model version serves: name, version, alias, run, dates and test metrics."""
    return ModelInfo.of(snapshot, run_facts(holder, snapshot.run_id))


@router.post(
    "/model:reload",
    response_model=ReloadResult,
    responses={
        409: {"description": "the new version failed to load; the old one keeps serving"},
        503: {"description": "loading failed and no model serves"},
    },
)
def reload_model(
    holder: HolderDep,
    store: StoreDep,
    caller: AdminCaller,
    force: Annotated[bool, Query(description="reload even if the version is unchanged")] = False,
) -> ReloadResult:
    """Load the alias's version now, check it, swap it in; the old one serves meanwhile.

    Every reload is in the audit log (``payrisk audit list``) with the key's name.
    """
    outcome = holder.reload(force=force)
    result = ReloadResult(
        outcome=outcome.outcome,
        serving_version=outcome.serving_version,
        previous_version=outcome.previous_version,
        attempted_version=outcome.attempted_version,
        error=outcome.error,
    )
    served = holder.status()
    record_api_action(
        store,
        caller,
        "model.reload",
        "failed" if outcome.outcome == "failed" else "ok",
        f"{served.name}@{served.alias}",
        result.model_dump(),
    )
    if outcome.outcome == "failed":
        status = 409 if outcome.serving_version is not None else 503
        serving = outcome.serving_version or "none"
        raise ApiError(
            status,
            f"reload failed, version {serving} keeps serving: {outcome.error}",
            **result.model_dump(),
        )
    if result.outcome == "loaded":
        # warm the metrics cache now, so the first GET /v1/model does not wait on MLflow
        snapshot = holder.current()
        if snapshot is not None:
            run_facts(holder, snapshot.run_id)
    return result


@router.get(
    "/model/health",
    response_model=ModelHealth,
    dependencies=[Depends(require_scope("score"))],
    responses={503: {"description": "no model is loaded"}},
)
def model_health_route(
    snapshot: ModelDep, store: StoreDep, settings: SettingsDep
) -> dict[str, object]:
    """Drift (PSI of recent stored scores vs the model's training profile, ok/warn/alert)
    and realized performance by scoring month: the figures of ``payrisk monitor``.

    Scope ``score``, like ``GET /v1/model``: read-only facts about the model that scores.
    """
    return model_health(store, settings, snapshot)
