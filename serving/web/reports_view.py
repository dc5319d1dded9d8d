"""What the KPI and model card pages show.

KPIs come from ``serving.kpis`` point in time, in the reporting currency when exchange
rates are set, else per currency. The model card reads the served version's training run:
its ``test.<scorer>.<metric>`` metrics (the model beside its baselines) and its PNG plots.
"""

from __future__ import annotations

import threading
from datetime import date
from pathlib import Path
from typing import Any

from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.kpi_reads import KpiQuestion, kpi_tables
from serving.kpis import AGING_BUCKETS
from serving.model_holder import ModelHolder
from serving.worklist_reads import records

TREND_MONTHS = 12
PLOTS = ("calibration.png", "capture.png")
_PLOT_FOLDER = "plots"
_TEST_PREFIX = "test."
_RUN_METRICS: dict[tuple[str, str], dict[str, dict[str, float]]] = {}
_RUN_METRICS_LOCK = threading.Lock()


def kpi_view(store: LedgerStore, settings: Settings, as_of: date) -> dict[str, Any]:
    """Current KPIs and their monthly trend, one block per currency (or the reporting one)."""
    reporting = settings.reporting_currency if settings.fx_rates else None
    question = KpiQuestion(as_of, None, TREND_MONTHS, separate_currencies=reporting is None)
    tables = kpi_tables(store, settings, question, with_effect=False)
    current, trend = tables.current, tables.trend
    blocks = []
    for row in records(current):
        currency = row.get("currency") or reporting
        key = row.get("currency")
        rows = trend.loc[trend["currency"] == key] if key is not None else trend
        blocks.append(
            {
                "currency": currency,
                "now": row,
                "aging": [(name, row[f"aging_{name}_amount"]) for name in AGING_BUCKETS],
                "trend": records(rows.sort_values("as_of")),
            }
        )
    return {"blocks": blocks, "ledger_empty": tables.ledger_empty}


def metric_table(metrics: dict[str, float]) -> dict[str, dict[str, float]]:
    """``test.<scorer>.<metric>`` (slice "all") as {metric: {scorer: value}}."""
    table: dict[str, dict[str, float]] = {}
    for name, value in metrics.items():
        parts = name.split(".")
        if len(parts) == 3 and parts[0] + "." == _TEST_PREFIX:
            table.setdefault(parts[2], {})[parts[1]] = float(value)
    return dict(sorted(table.items()))


def run_metrics(holder: ModelHolder, run_id: str) -> dict[str, dict[str, float]]:
    """The run's test metrics by metric and scorer, cached: a finished run never changes."""
    key = (holder.tracking_uri, run_id)
    with _RUN_METRICS_LOCK:
        cached = _RUN_METRICS.get(key)
    if cached is not None:
        return cached
    table = metric_table(holder.registry_client().get_run(run_id).data.metrics)
    with _RUN_METRICS_LOCK:
        _RUN_METRICS[key] = table
    return table


def model_view(holder: ModelHolder) -> dict[str, Any]:
    """The serving version and its run's metrics, or why they are missing."""
    snapshot = holder.current()
    if snapshot is None:
        return {"snapshot": None, "error": holder.status().last_error}
    table: dict[str, dict[str, float]] = {}
    error = None
    if snapshot.run_id is None:
        error = "the model version has no training run"
    else:
        try:
            table = run_metrics(holder, snapshot.run_id)
        except Exception as failure:  # any registry failure: show the card without metrics
            error = (str(failure).strip().splitlines() or [repr(failure)])[0][:300]
    scorers = sorted({scorer for values in table.values() for scorer in values})
    # The model first, then its baselines.
    scorers = sorted(scorers, key=lambda name: (name != "model", name))
    return {"snapshot": snapshot, "metrics": table, "scorers": scorers, "error": error}


def plot_bytes(holder: ModelHolder, file_name: str, folder: Path) -> bytes | None:
    """One PNG plot of the serving model's run, downloaded into ``folder``; None if absent."""
    snapshot = holder.current()
    if file_name not in PLOTS or snapshot is None or snapshot.run_id is None:
        return None
    try:
        local = holder.registry_client().download_artifacts(
            snapshot.run_id, f"{_PLOT_FOLDER}/{file_name}", str(folder)
        )
    except Exception:  # a run without this plot: the page shows no image
        return None
    return Path(local).read_bytes()
