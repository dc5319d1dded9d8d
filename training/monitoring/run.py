"""Run the monitoring: scores and ledger from the store, reference from the model, report
to a file and to MLflow (one run per report in the experiment ``<experiment>-monitor``).
"""

from __future__ import annotations

import json
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import mlflow
import pandas as pd

from ledger.errors import PayriskError
from ledger.scores_store import read_scores
from ledger.store import LedgerStore
from models.drift import ReferenceProfile
from models.monitoring import NO_PROFILE_NOTICE, MonitorConfig, MonitorReport, monitor
from models.pyfunc import load_payment_risk_model
from models.registry import open_registry, resolve_model_uri, tracking_uri_set
from training.monitoring.html import render_report
from training.tracking import TAG_PREFIX, TrackingSettings, ensure_experiment, metric_name

MONITOR_EXPERIMENT_SUFFIX = "-monitor"


class MonitorSettings(TrackingSettings, Protocol):
    """What monitoring reads from ``payrisk.settings.Settings``."""

    monitor_psi_warn: float
    monitor_psi_alert: float
    monitor_window_days: int
    monitor_top_features: int


@dataclass(frozen=True)
class MonitorOutcome:
    """A finished monitoring: the report, its HTML file and its MLflow run."""

    report: MonitorReport
    config: MonitorConfig
    model_uri: str
    html_path: Path
    run_id: str | None


def load_reference(
    model_uri: str, tracking_uri: str
) -> tuple[ReferenceProfile | None, str, str | None]:
    """The model's reference profile (None for an older model), its pinned URI and its
    registered version (None for a URI outside the registry, e.g. ``runs:/``).

    Raises a ``PayriskError`` (``AliasNotFoundError``, ``ModelNotFoundError``,
    ``ModelLoadError``) naming the URI when it does not resolve.
    """
    version = resolve_model_uri(open_registry(tracking_uri), model_uri)
    pinned = model_uri if version is None else f"models:/{version.name}/{version.version}"
    loaded = load_payment_risk_model(pinned, tracking_uri=tracking_uri)
    return loaded.reference, pinned, None if version is None else str(version.version)


def run_monitoring(
    settings: MonitorSettings,
    store: LedgerStore,
    *,
    model_uri: str,
    since: pd.Timestamp | None,
    out: Path,
    log_to_mlflow: bool = True,
) -> MonitorOutcome:
    """Build the report, write it to ``out`` (HTML) and log it to MLflow.

    A model that cannot be found does not stop the report: realized performance needs
    only the stored scores, so it becomes a notice and the drift part is left out.
    """
    config = MonitorConfig.from_settings(settings)
    scores = read_scores(store)
    ledger = store.load()
    profile, version, notice = None, None, NO_PROFILE_NOTICE
    try:
        profile, model_uri, version = load_reference(model_uri, settings.resolved_tracking_uri)
    except PayriskError as error:
        notice = f"no drift figures: {error}"
    report = monitor(
        scores,
        ledger,
        profile,
        config,
        since=since,
        model_version=version,
        no_profile_notice=notice,
    )
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(render_report(report, config, model_uri), encoding="utf-8")
    run_id = _log(settings, report, model_uri, out) if log_to_mlflow else None
    return MonitorOutcome(report, config, model_uri, out, run_id)


def _metrics(report: MonitorReport) -> dict[str, float]:
    """``psi.<column>`` and ``realized.<month>.<metric>`` (finite values only)."""
    values: dict[str, float] = {}
    for row in report.drift.itertuples(index=False):
        values[metric_name("psi", row.kind, row.column)] = float(row.psi)
    for row in report.realized.to_dict("records"):
        month = str(row.pop("month"))
        for name, value in row.items():
            values[metric_name("realized", month, name)] = float(value)
    return {name: value for name, value in values.items() if math.isfinite(value)}


def _log(settings: MonitorSettings, report: MonitorReport, model_uri: str, html: Path) -> str:
    """One MLflow run: status and window as tags, PSIs and realized figures as metrics."""
    client = open_registry(settings.resolved_tracking_uri)
    name = settings.experiment_name + MONITOR_EXPERIMENT_SUFFIX
    experiment_id = ensure_experiment(client, settings, name)
    summary = report.to_dict()
    tags = {
        TAG_PREFIX + "monitor.status": report.status,
        TAG_PREFIX + "monitor.model_uri": model_uri,
        TAG_PREFIX + "monitor.since": str(summary["since"]),
        TAG_PREFIX + "monitor.until": str(summary["until"]),
        TAG_PREFIX + "monitor.model_versions": ",".join(report.model_versions),
    }
    with tracking_uri_set(settings.resolved_tracking_uri):
        run = client.create_run(experiment_id, tags=tags, run_name=f"monitor-{summary['until']}")
        with mlflow.start_run(run_id=run.info.run_id):
            mlflow.log_metrics(_metrics(report))
            with tempfile.TemporaryDirectory(prefix="payrisk-monitor-") as folder:
                root = Path(folder)
                (root / "report.html").write_text(html.read_text(encoding="utf-8"))
                (root / "report.json").write_text(json.dumps(summary, indent=1, default=str))
                report.drift.to_csv(root / "drift.csv", index=False)
                report.realized.to_csv(root / "realized.csv", index=False)
                mlflow.log_artifacts(folder)
    return str(run.info.run_id)
