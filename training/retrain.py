"""Retraining: a challenger on a rolling window, gated against the champion, recorded.

``retrain`` trains on the last ``window_months`` months of as-of dates up to the data
cutoff (features still see the whole history before each as-of date: they are point in
time), with the pipeline's own ``train_on_frame``. The challenger's out-of-time test
period is the most recent matured one; the champion is scored on exactly those rows,
and ``models.registry.promote`` decides (ROC AUC of P(late) by ``promotion_margin``,
and Brier of P(late) not worse than ``retrain_brier_tolerance``).

Decisions: with no champion yet, the first challenger becomes champion (a service with
no model serves nothing; the registry's gate does the same). Idempotent: when this data
(fingerprint) and window were already decided with the current champion, nothing is
trained and the earlier decision is returned (``skipped``).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Protocol

import pandas as pd
from mlflow import MlflowClient

from ledger.errors import PayriskError
from ledger.frames import Ledger
from models.pyfunc import load_payment_risk_model
from models.registry import (
    CHAMPION_ALIAS,
    ModelNotFoundError,
    RegistryError,
    aliases_of,
    open_registry,
    promote,
    version_uri,
)
from training.configs import split_config_from
from training.dataset import (
    TrainingSettings,
    buckets_from,
    build_training_frame,
    data_cutoff_of,
    ledger_date_range,
)
from training.pipeline import ledger_fingerprint, train_on_frame
from training.retrain_record import (
    RetrainRecord,
    find_decision,
    picked_metrics,
    write_record,
)
from training.split import NotEnoughHistory, SplitPlan, plan_split, split_frame
from training.tracking import (
    TAG_PREFIX,
    EvaluationPeriod,
    TrackingSettings,
    log_training_run,
    model_metrics,
    rescore,
)

_ONE_DAY = pd.Timedelta(days=1)


class RetrainSettings(TrainingSettings, TrackingSettings, Protocol):
    """What retraining reads from ``payrisk.settings.Settings``."""

    promotion_margin: float
    retrain_window_months: int
    retrain_brier_tolerance: float


class NoMaturedOutcomes(NotEnoughHistory):
    """The retraining window has no snapshot whose outcome is known yet."""


@dataclass(frozen=True)
class TrainingWindow:
    """The rows a challenger trains and is tested on, and where they come from."""

    frame: pd.DataFrame  # training-frame rows with as_of in [start, cutoff]
    plan: SplitPlan
    start: pd.Timestamp
    cutoff: pd.Timestamp
    last_date: pd.Timestamp


@dataclass(frozen=True)
class RetrainOutcome:
    """What one ``retrain`` did; ``decision`` is the gate's or ``skipped``."""

    decision: str
    reason: str
    champion_before: str | None
    champion_after: str | None
    challenger_version: str | None
    data_fingerprint: str
    window_months: int
    period: str = ""
    challenger_metrics: dict[str, float] = field(default_factory=dict)
    champion_metrics: dict[str, float] = field(default_factory=dict)
    record_run_id: str | None = None

    @property
    def promoted(self) -> bool:
        """True when ``champion`` moved to the new challenger."""
        return self.decision != "skipped" and self.champion_after != self.champion_before


def window_of(
    ledger: Ledger,
    settings: TrainingSettings,
    window_months: int,
    *,
    oracle: pd.DataFrame | None = None,
) -> TrainingWindow:
    """The training frame of the last ``window_months`` months of as-of dates.

    Raises ``NotEnoughHistory`` (the window is too short to split, with the counts) or
    ``NoMaturedOutcomes`` (nothing in the window has a known outcome yet).
    """
    first_date, last_date = ledger_date_range(ledger)
    cutoff = data_cutoff_of(ledger, settings)
    start = max(first_date, cutoff + _ONE_DAY - pd.DateOffset(months=window_months))
    where = f"the retraining window ({window_months} months, {start.date()} to {cutoff.date()})"
    try:
        plan = plan_split(start, cutoff, split_config_from(settings))
    except NotEnoughHistory as error:
        raise NotEnoughHistory(f"{where} is too short: {error}") from error
    frame = build_training_frame(ledger, settings, oracle=oracle, cutoff=cutoff)
    frame = frame.loc[frame["as_of"] >= start].reset_index(drop=True)
    if not frame["late_known"].any():
        raise NoMaturedOutcomes(
            f"{where} has {len(frame)} snapshot rows and none has a matured outcome yet "
            f"(no invoice paid or past due by {cutoff.date()}): nothing to learn from"
        )
    return TrainingWindow(frame, plan, start, cutoff, last_date)


class PeriodScorer:
    """model URI -> its test metrics on the challenger's test period; remembers each answer."""

    def __init__(self, window: TrainingWindow, settings: RetrainSettings) -> None:
        buckets, config = buckets_from(settings), split_config_from(settings)
        splits = split_frame(window.frame, window.plan, config, buckets)
        self.period = EvaluationPeriod(splits, window.plan, buckets)
        self.settings = settings
        self.results: dict[str, dict[str, float]] = {}

    def __call__(self, model_uri: str) -> dict[str, float]:
        if model_uri not in self.results:
            tracking_uri = self.settings.resolved_tracking_uri
            loaded = load_payment_risk_model(model_uri, tracking_uri=tracking_uri)
            self.results[model_uri] = model_metrics(
                rescore(loaded.model, self.period, self.settings)
            )
        return self.results[model_uri]

    def metrics_of(self, name: str, version: str | None) -> dict[str, float]:
        """The recorded metrics of a version scored here (empty if it was not)."""
        if version is None:
            return {}
        return picked_metrics(self.results.get(version_uri(name, version), {}))


class RetrainError(PayriskError):
    """Retraining cannot finish as asked."""


def retrain(
    ledger: Ledger,
    settings: RetrainSettings,
    *,
    window_months: int | None = None,
    oracle: pd.DataFrame | None = None,
    log: Callable[[str], None] = lambda _: None,
) -> RetrainOutcome:
    """Train a challenger on the window, gate it against the champion, record the decision.

    ``log`` receives progress lines for people. Raises ``NotEnoughHistory`` /
    ``NoMaturedOutcomes`` before anything is registered; ``RetrainError`` when the gate
    cannot decide (the challenger then stays registered under alias ``challenger``).
    """
    months = window_months or settings.retrain_window_months
    client = open_registry(settings.resolved_tracking_uri)
    name = settings.registered_model_name
    fingerprint = ledger_fingerprint(ledger)
    champion = _champion_of(client, name)
    earlier = find_decision(
        client, settings, data_fingerprint=fingerprint, window_months=months, champion=champion
    )
    if earlier is not None:
        return _skipped(earlier, fingerprint, months, champion)
    window = window_of(ledger, settings, months, oracle=oracle)
    log(f"training a challenger on {len(window.frame)} snapshot rows from {window.start.date()}")
    result = train_on_frame(
        window.frame,
        settings,
        date_range=(window.start, window.last_date),
        cutoff=window.cutoff,
        fingerprint=fingerprint,
    )
    run = log_training_run(result, settings)
    scorer = PeriodScorer(window, settings)
    log(f"gate: champion and challenger v{run.version} scored on {scorer.period.description}")
    try:
        decision = promote(
            client,
            name,
            evaluate=scorer,
            margin=settings.promotion_margin,
            brier_tolerance=settings.retrain_brier_tolerance,
            reason=f"retrain on the last {months} months",
        )
    except RegistryError as error:
        raise RetrainError(
            f"challenger v{run.version} is registered (alias challenger), but the gate "
            f"could not decide: {error}"
        ) from error
    outcome = RetrainOutcome(
        decision=decision.decision,
        reason=decision.reason,
        champion_before=decision.champion_before,
        champion_after=decision.champion_after,
        challenger_version=decision.challenger_version,
        data_fingerprint=fingerprint,
        window_months=months,
        period=scorer.period.description,
        challenger_metrics=scorer.metrics_of(name, decision.challenger_version),
        champion_metrics=scorer.metrics_of(name, decision.champion_before),
    )
    record_id = _record(client, settings, outcome, window, run.run_id)
    return replace(outcome, record_run_id=record_id)


def _champion_of(client: MlflowClient, name: str) -> str | None:
    """The champion's version, or None (also when no model is registered yet)."""
    try:
        return aliases_of(client, name).get(CHAMPION_ALIAS)
    except ModelNotFoundError:
        return None


def _skipped(
    earlier: dict[str, str], fingerprint: str, months: int, champion: str | None
) -> RetrainOutcome:
    return RetrainOutcome(
        decision="skipped",
        reason=(
            f"nothing to do: this data and window were already decided at {earlier['when']} "
            f"({earlier['decision']}, challenger v{earlier['challenger']}) and "
            f"v{champion or '-'} is still the champion"
        ),
        champion_before=champion,
        champion_after=champion,
        challenger_version=None,
        data_fingerprint=fingerprint,
        window_months=months,
    )


def _record(
    client: MlflowClient,
    settings: RetrainSettings,
    outcome: RetrainOutcome,
    window: TrainingWindow,
    challenger_run_id: str,
) -> str:
    """The decision as a run of the retrain experiment and as tags on the challenger's run."""
    test_from, test_to = window.plan.bounds("test")
    record = RetrainRecord(
        when=datetime.now(UTC).isoformat(timespec="seconds"),
        model_name=settings.registered_model_name,
        data_fingerprint=outcome.data_fingerprint,
        window_months=outcome.window_months,
        champion_before=outcome.champion_before or "",
        challenger=outcome.challenger_version or "",
        champion_after=outcome.champion_after or "",
        decision=outcome.decision,
        reason=outcome.reason,
        params={
            "window_start": f"{window.start:%Y-%m-%d}",
            "data_cutoff": f"{window.cutoff:%Y-%m-%d}",
            "test_as_of_from": f"{test_from:%Y-%m-%d}",
            "test_as_of_to": f"{test_to:%Y-%m-%d}",
            "test_period": outcome.period,
            "promotion_margin": f"{settings.promotion_margin:g}",
            "brier_tolerance": f"{settings.retrain_brier_tolerance:g}",
            "challenger_run_id": challenger_run_id,
        },
        challenger_metrics=outcome.challenger_metrics,
        champion_metrics=outcome.champion_metrics,
    )
    record_id = write_record(client, settings, record)
    for key, value in record.tags().items():
        if key not in ("retrain.data_fingerprint", "retrain.model_name"):  # the run has them
            client.set_tag(challenger_run_id, key, value)
    client.set_tag(challenger_run_id, TAG_PREFIX + "retrain_record_run_id", record_id)
    return record_id
