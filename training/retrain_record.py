"""The retraining decision log: one MLflow run per decision in ``<experiment>-retrain``.

Each run holds what was decided and on which numbers: tags ``retrain.*`` (data
fingerprint, window, champion before and after, challenger version and run, decision,
reason), params (window, data cutoff, the test period both models were scored on) and
metrics ``challenger.<metric>`` / ``champion.<metric>``. ``payrisk retrain --history``
lists them; ``find_decision`` is the idempotency check.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import pandas as pd
from mlflow import MlflowClient

from training.tracking import TrackingSettings, ensure_experiment

TAG = "retrain."
RECORDED_METRICS = (
    "roc_auc_late",
    "brier_late",
    "pr_auc_late",
    "roc_auc_over_30",
    "capture_at_10",
    "n_late_known",
)
HISTORY_COLUMNS = (
    "when",
    "window_months",
    "champion_before",
    "challenger",
    "champion_after",
    "challenger_roc_auc_late",
    "champion_roc_auc_late",
    "challenger_brier_late",
    "champion_brier_late",
    "decision",
    "reason",
)
_TAGGED_COLUMNS = tuple(c for c in HISTORY_COLUMNS if not c.endswith("_late"))


@dataclass(frozen=True)
class RetrainRecord:
    """One retraining decision, as stored (versions are strings, "" when there is none)."""

    when: str  # ISO time in UTC
    model_name: str
    data_fingerprint: str
    window_months: int
    champion_before: str
    challenger: str
    champion_after: str
    decision: str  # the gate's: promoted, first, refused
    reason: str
    params: dict[str, str] = field(default_factory=dict)
    challenger_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)

    def tags(self) -> dict[str, str]:
        """The ``retrain.*`` tags of the record."""
        values = {
            "when": self.when,
            "model_name": self.model_name,
            "data_fingerprint": self.data_fingerprint,
            "window_months": str(self.window_months),
            "champion_before": self.champion_before,
            "challenger": self.challenger,
            "champion_after": self.champion_after,
            "decision": self.decision,
            "reason": self.reason[:5000],
        }
        return {TAG + key: value for key, value in values.items()}


def experiment_name_of(settings: TrackingSettings) -> str:
    """Where the decisions go: ``<experiment>-retrain``."""
    return f"{settings.experiment_name}-retrain"


def picked_metrics(metrics: Mapping[str, float]) -> dict[str, float]:
    """The recorded subset of a model's test metrics (missing ones left out)."""
    return {name: float(metrics[name]) for name in RECORDED_METRICS if name in metrics}


def write_record(client: MlflowClient, settings: TrackingSettings, record: RetrainRecord) -> str:
    """Log ``record`` as a finished run of the retrain experiment; returns its run id."""
    experiment_id = ensure_experiment(client, settings, experiment_name_of(settings))
    run = client.create_run(
        experiment_id, tags=record.tags(), run_name=f"retrain-{record.decision}"
    )
    run_id = run.info.run_id
    for key, value in record.params.items():
        client.log_param(run_id, key, value)
    for role, values in (
        ("challenger", record.challenger_metrics),
        ("champion", record.champion_metrics),
    ):
        for name, number in values.items():
            client.log_metric(run_id, f"{role}.{name}", number)
    client.set_terminated(run_id, "FINISHED")
    return str(run_id)


def _runs(client: MlflowClient, settings: TrackingSettings, filter_string: str = "") -> list[Any]:
    """Decision runs, newest first; none when the experiment does not exist yet."""
    experiment = client.get_experiment_by_name(experiment_name_of(settings))
    if experiment is None:
        return []
    return list(
        client.search_runs(
            [experiment.experiment_id],
            filter_string=filter_string,
            order_by=["attributes.start_time DESC"],
            max_results=1000,
        )
    )


def find_decision(
    client: MlflowClient,
    settings: TrackingSettings,
    *,
    data_fingerprint: str,
    window_months: int,
    champion: str | None,
) -> dict[str, str] | None:
    """The latest decision on this model, data and window that left ``champion`` serving.

    That is the idempotency rule: the same data and window with the same champion
    decided before (promoted to it, or refused against it) need no new run.
    """
    runs = _runs(client, settings, f"tags.`{TAG}data_fingerprint` = '{data_fingerprint}'")
    wanted = (settings.registered_model_name, str(window_months), champion or "")
    for run in runs:
        tags = {k.removeprefix(TAG): v for k, v in run.data.tags.items() if k.startswith(TAG)}
        found = (tags.get("model_name"), tags.get("window_months"), tags.get("champion_after"))
        if found == wanted:
            return tags
    return None


def history(client: MlflowClient, settings: TrackingSettings) -> pd.DataFrame:
    """Every recorded decision about the registered model, newest first (``HISTORY_COLUMNS``)."""
    lines = []
    name_filter = f"tags.`{TAG}model_name` = '{settings.registered_model_name}'"
    for run in _runs(client, settings, name_filter):
        tags, metrics = run.data.tags, run.data.metrics
        line: dict[str, Any] = {key: tags.get(TAG + key, "") for key in _TAGGED_COLUMNS}
        for role in ("challenger", "champion"):
            for metric in ("roc_auc_late", "brier_late"):
                line[f"{role}_{metric}"] = metrics.get(f"{role}.{metric}", float("nan"))
        lines.append(line)
    return pd.DataFrame(lines, columns=list(HISTORY_COLUMNS))
