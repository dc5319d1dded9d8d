"""The serving model's health: ``models.monitoring``'s report on the stored scores.

The same figures as ``payrisk monitor`` (drift of the recent served scores against the
model's reference profile, realized performance by scoring month), computed here from
the ledger database and the loaded model, never from ``training``. Building it reads the
whole ledger, so a report is reused for ``monitor_cache_seconds`` while the model version
and the number of stored scores stay the same.
"""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import BaseModel, Field

from ledger.errors import PayriskError
from ledger.scores_store import count_scores, read_scores
from ledger.store import LedgerStore
from models.drift import Status
from models.monitoring import MonitorConfig, monitor
from payrisk.settings import Settings
from serving.ledger_reads import read_whole_ledger
from serving.model_holder import ModelSnapshot

_CACHE: dict[tuple[str, str, int], tuple[float, dict[str, Any]]] = {}
_CACHE_LOCK = threading.Lock()


def build_health(store: LedgerStore, settings: Settings, snapshot: ModelSnapshot) -> dict[str, Any]:
    """The report as JSON-ready data, plus the version, thresholds and when it was made."""
    config = MonitorConfig.from_settings(settings)
    report = monitor(
        read_scores(store),
        read_whole_ledger(store),
        snapshot.model.reference,
        config,
        model_version=snapshot.version,
    )
    return {
        **report.to_dict(),
        "model_version": snapshot.version,
        "has_reference_profile": snapshot.model.reference is not None,
        "thresholds": {"psi_warn": config.psi_warn, "psi_alert": config.psi_alert},
        "computed_at": datetime.now(UTC).isoformat(timespec="seconds"),
    }


def model_health(store: LedgerStore, settings: Settings, snapshot: ModelSnapshot) -> dict[str, Any]:
    """``build_health``, reused while fresh (same store, version and score count)."""
    key = (store.display_url, snapshot.version, count_scores(store))
    now = time.monotonic()
    with _CACHE_LOCK:
        cached = _CACHE.get(key)
    if cached is not None and now - cached[0] < settings.monitor_cache_seconds:
        return cached[1]
    health = build_health(store, settings, snapshot)
    with _CACHE_LOCK:
        _CACHE.clear()  # one report per process is enough; keys of old versions go
        _CACHE[key] = (now, health)
    return health


class DriftRow(BaseModel):
    """One column's PSI against the model's reference profile."""

    column: str
    psi: float | None = Field(description="population stability index; None without rows")
    status: Status
    reference_missing_share: float | None
    recent_missing_share: float | None
    rows: int


class ModelHealth(BaseModel):
    """Drift and realized performance of the serving model (``payrisk monitor``'s figures)."""

    status: Status = Field(description="worst PSI status of P(late) and P(> 30)")
    model_version: str
    has_reference_profile: bool = Field(description="false for models trained before profiles")
    notices: list[str] = Field(description="why a part is missing (no scores, no outcomes...)")
    model_versions: list[str] = Field(description="model versions that made the stored scores")
    since: str | None = Field(description="first as-of date of the recent window")
    until: str | None = Field(description="newest as-of date scored")
    recent_rows: int
    scored_rows: int
    outcome_cutoff: str | None = Field(description="outcomes are known up to this date")
    thresholds: dict[str, float]
    scores_drift: list[DriftRow]
    features_drift: list[DriftRow]
    top_drifted_features: list[str]
    realized_by_month: list[dict[str, float | str | None]] = Field(
        description="per as-of month and 'all': ROC AUC, Brier, shares, capture model vs aging"
    )
    calibration: list[dict[str, float | str | None]]
    computed_at: str


def health_view(
    store: LedgerStore, settings: Settings, snapshot: ModelSnapshot | None
) -> dict[str, Any]:
    """For the model card page: ``health`` (``model_health``'s data) or ``health_error``.

    The page must render even when the report cannot be built (e.g. the database is
    down): the reason is shown instead of the section.
    """
    if snapshot is None:
        return {"health": None, "health_error": None}
    try:
        return {"health": model_health(store, settings, snapshot), "health_error": None}
    except PayriskError as error:
        return {"health": None, "health_error": str(error)}
