"""The monitoring report: drift of recent served scores against the model's reference,
and realized performance of every served score. Pure: frames in, a report out.

Used by ``payrisk monitor`` (``training.monitoring``, which adds the HTML and MLflow) and
by ``GET /v1/model/health`` (``serving``), so both give the same figures.

Recent rows: served scores with an as-of date >= ``since`` (default: the newest as-of
date minus ``window_days``). Scores are a log, so one (invoice, as-of date) scored twice
counts once, with its latest score. Their features are recomputed point in time from
the ledger (``features.build_features``: the scores table keeps no features); an
invoice no longer in the ledger is left out of the feature drift and named in a notice.

Status: the worst PSI status of the scores (P(late), P(> 30)). Feature PSIs explain a
score shift, but some features drift by construction (tenure, history counts grow with
the ledger's age) without the model going wrong, so they do not set the status alone.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from features.build import build_features
from features.registry import FEATURE_NAMES
from ledger.frames import Ledger
from ledger.settlement import settled_dates
from models.drift import ReferenceProfile, Status, drift_table, worst
from models.realized import realized_by_month, realized_calibration, realized_targets

SCORE_COLUMNS = ("p_late", "p_over_30")
NO_PROFILE_NOTICE = (
    "the model has no reference profile (trained before profiles existed): "
    "no drift figures; retrain to get them"
)


@dataclass(frozen=True)
class MonitorConfig:
    """Thresholds and windows (``payrisk.settings``: ``monitor_*``)."""

    psi_warn: float = 0.1
    psi_alert: float = 0.25
    window_days: int = 30
    top_features: int = 5
    grace_days: int = 0

    @classmethod
    def from_settings(cls, settings: Any) -> MonitorConfig:
        """From ``payrisk.settings.Settings`` (its ``monitor_*`` and ``grace_days``)."""
        return cls(
            psi_warn=settings.monitor_psi_warn,
            psi_alert=settings.monitor_psi_alert,
            window_days=settings.monitor_window_days,
            top_features=settings.monitor_top_features,
            grace_days=settings.grace_days,
        )


@dataclass
class MonitorReport:
    """Everything ``payrisk monitor`` and ``/v1/model/health`` report."""

    status: Status
    notices: list[str]
    model_versions: list[str]
    since: pd.Timestamp | None
    until: pd.Timestamp | None
    recent_rows: int
    scored_rows: int
    outcome_cutoff: pd.Timestamp | None
    drift: pd.DataFrame = field(default_factory=pd.DataFrame)
    realized: pd.DataFrame = field(default_factory=pd.DataFrame)
    calibration: pd.DataFrame = field(default_factory=pd.DataFrame)
    top_features: int = 5

    def top_drifted(self) -> pd.DataFrame:
        """The ``top_features`` features with the highest PSI."""
        if self.drift.empty:
            return self.drift
        features = self.drift.loc[self.drift["kind"] == "feature"]
        return features.nlargest(self.top_features, "psi")

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: dates ``YYYY-MM-DD``, NaN as None."""
        return {
            "status": self.status,
            "notices": list(self.notices),
            "model_versions": list(self.model_versions),
            "since": _day(self.since),
            "until": _day(self.until),
            "recent_rows": self.recent_rows,
            "scored_rows": self.scored_rows,
            "outcome_cutoff": _day(self.outcome_cutoff),
            "scores_drift": _records(self.drift.loc[self.drift["kind"] == "score"])
            if not self.drift.empty
            else [],
            "features_drift": _records(self.drift.loc[self.drift["kind"] == "feature"])
            if not self.drift.empty
            else [],
            "top_drifted_features": [str(name) for name in self.top_drifted().get("column", [])],
            "realized_by_month": _records(self.realized),
            "calibration": _records(self.calibration),
        }


def _day(value: pd.Timestamp | None) -> str | None:
    return None if value is None or pd.isna(value) else f"{value:%Y-%m-%d}"


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts with plain Python values; NaN becomes None."""
    records = []
    for row in frame.drop(columns=["kind"], errors="ignore").to_dict("records"):
        records.append(
            {
                str(key): None
                if isinstance(value, float) and math.isnan(value)
                else (value.item() if isinstance(value, np.generic) else value)
                for key, value in row.items()
            }
        )
    return records


def latest_per_row(scores: pd.DataFrame) -> pd.DataFrame:
    """One row per (invoice, as-of date): the latest ``scored_at`` (scores are a log)."""
    ordered = scores.sort_values(["scored_at", "invoice_id"], kind="stable")
    latest = ordered.drop_duplicates(["invoice_id", "as_of"], keep="last")
    return latest.sort_values(["as_of", "invoice_id"], ignore_index=True)


def outcome_cutoff(ledger: Ledger) -> pd.Timestamp | None:
    """The ledger's last fact date: outcomes are known up to it (None for an empty ledger)."""
    dates = [
        ledger.invoices["issue_date"].max(),
        ledger.invoices["paid_date"].max(),
        ledger.payments["payment_date"].max(),
        ledger.activities["date"].max(),
    ]
    known = [pd.Timestamp(value) for value in dates if pd.notna(value)]
    return max(known) if known else None


def _outcome_rows(
    served: pd.DataFrame, ledger: Ledger, cutoff: pd.Timestamp, grace_days: int
) -> pd.DataFrame:
    """Served rows of invoices in the ledger, with days overdue at t and realized targets."""
    invoices = ledger.invoices
    dates = pd.DataFrame(
        {
            "due_date": invoices["due_date"].to_numpy(),
            "settled_date": settled_dates(invoices, ledger.payments).to_numpy(),
        },
        index=pd.Index(invoices["invoice_id"].astype(str)),
    )
    known = served.loc[served["invoice_id"].astype(str).isin(dates.index)].reset_index(drop=True)
    matched = dates.reindex(known["invoice_id"].astype(str).to_numpy()).reset_index(drop=True)
    overdue = (known["as_of"] - matched["due_date"]).dt.days.clip(lower=0).astype("float64")
    targets = realized_targets(matched["due_date"], matched["settled_date"], cutoff, grace_days)
    return pd.concat([known, targets], axis=1).assign(days_overdue=overdue.to_numpy())


def _drift(
    recent: pd.DataFrame, ledger: Ledger, profile: ReferenceProfile, config: MonitorConfig
) -> pd.DataFrame:
    features = build_features(ledger, recent[["invoice_id", "as_of"]].reset_index(drop=True))
    return drift_table(
        profile,
        features[list(FEATURE_NAMES)],
        recent[list(SCORE_COLUMNS)],
        warn=config.psi_warn,
        alert=config.psi_alert,
    )


def _served_in_ledger(scores: pd.DataFrame, ledger: Ledger) -> tuple[pd.DataFrame, list[str]]:
    """The latest score per (invoice, as-of date) of invoices the ledger still holds."""
    served = latest_per_row(scores)
    known = set(ledger.invoices["invoice_id"].astype(str))
    in_ledger = served["invoice_id"].astype(str).isin(known)
    notices = []
    if not in_ledger.all():
        notices.append(
            f"{int((~in_ledger).sum())} scored rows name invoices no longer in the ledger; left out"
        )
    return served.loc[in_ledger].reset_index(drop=True), notices


def _recent(
    served: pd.DataFrame, since: pd.Timestamp | None, window_days: int, version: str | None
) -> tuple[pd.DataFrame, pd.Timestamp | None, list[str]]:
    """Rows with as-of >= ``since`` (default: newest minus ``window_days``) of ``version``."""
    if served.empty:
        return served, since, []
    start = since if since is not None else served["as_of"].max() - pd.Timedelta(days=window_days)
    recent = served.loc[served["as_of"] >= start]
    notices = []
    if version is not None:
        mine = recent["model_version"].astype(str) == str(version)
        if not mine.all():
            notices.append(
                f"{int((~mine).sum())} recent rows scored by other model versions than "
                f"{version}: left out of the drift figures"
            )
        recent = recent.loc[mine]
    return recent, pd.Timestamp(start), notices


def monitor(
    scores: pd.DataFrame,
    ledger: Ledger,
    profile: ReferenceProfile | None,
    config: MonitorConfig,
    *,
    since: pd.Timestamp | None = None,
    model_version: str | None = None,
    no_profile_notice: str = NO_PROFILE_NOTICE,
) -> MonitorReport:
    """Drift of the recent served scores and realized performance of all of them.

    ``scores``: the scores table's rows (``ledger.scores_store``), any models; ``profile``
    the reference of the model ``model_version`` (None for a model trained before
    profiles existed); drift uses that version's recent rows only (all if None).
    ``no_profile_notice``: what to say when ``profile`` is None (e.g. the model is missing).
    Never raises for "nothing to compare yet": the report says so in ``notices``.
    """
    cutoff = outcome_cutoff(ledger)
    if scores.empty:
        notice = "no scores yet: score open invoices first (POST /v1/scores:refresh)"
        return MonitorReport("unknown", [notice], [], since, None, 0, 0, cutoff)
    served, notices = _served_in_ledger(scores, ledger)
    recent, start, more = _recent(served, since, config.window_days, model_version)
    report = MonitorReport(
        "unknown",
        notices + more,
        sorted(set(served["model_version"].astype(str))),
        start,
        pd.Timestamp(served["as_of"].max()) if len(served) else None,
        len(recent),
        len(served),
        cutoff,
        top_features=config.top_features,
    )
    if recent.empty:
        report.notices.append(
            f"no recent scores: none with an as-of date on or after {_day(start)}"
        )
    elif profile is None:
        report.notices.append(no_profile_notice)
    else:
        report.drift = _drift(recent, ledger, profile, config)
        report.status = worst(list(report.drift.loc[report.drift["kind"] == "score", "status"]))
    if cutoff is not None and len(served):
        _add_realized(report, _outcome_rows(served, ledger, cutoff, config.grace_days))
    return report


def _add_realized(report: MonitorReport, rows: pd.DataFrame) -> None:
    report.realized = realized_by_month(rows)
    report.calibration = realized_calibration(rows)
    if rows["late"].notna().sum() == 0:
        report.notices.append("no matured outcomes yet: no served invoice is paid or past due yet")
