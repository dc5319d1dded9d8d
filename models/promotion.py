"""The promotion gate: whether the challenger may become champion, and the record of why.

``promote`` moves ``champion`` only when the challenger beats it on the same out-of-time
test, scored by a function the caller passes (so ``models/`` stays free of ``training/``);
an optional calibration guard also refuses a challenger whose Brier score is worse.
Every decision is written as tags on the model version it is about, before the alias
moves, so a failed write moves nothing.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from mlflow import MlflowClient

from ledger.errors import PayriskError
from models.registry_errors import RegistryError
from models.registry_versions import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    aliases_of,
    get_version,
    get_version_by_alias,
    version_uri,
)

# ROC AUC of P(late) on the latest out-of-time test split: on small ledgers it has many
# more positives than P(> 30 days), so the gate is less noisy; it is also the headline
# metric of the targets.
PRIMARY_METRIC = "roc_auc_late"
# The calibration guard (``brier_tolerance``): Brier score of P(late), lower is better.
CALIBRATION_METRIC = "brier_late"
TAG_PREFIX = "promotion."

Decision = Literal["promoted", "first", "forced", "refused", "noop", "rollback"]
Evaluate = Callable[[str], Mapping[str, float]]


@dataclass(frozen=True)
class PromotionDecision:
    """What the gate decided, and on which numbers."""

    name: str
    decision: Decision
    challenger_version: str
    champion_before: str | None
    champion_after: str | None
    metric: str
    challenger_value: float | None
    champion_value: float | None
    margin: float
    forced: bool
    reason: str
    decided_at: str

    @property
    def promoted(self) -> bool:
        """True when ``champion`` moved to the challenger (or the requested version)."""
        return self.champion_after != self.champion_before

    @property
    def message(self) -> str:
        """One line for people: what happened and why."""
        subject = f"{self.name} v{self.challenger_version}"
        verbs = {
            "promoted": "promoted to champion",
            "first": "promoted to champion (first champion)",
            "forced": "promoted to champion by --force",
            "refused": "NOT promoted",
            "noop": "already champion, nothing to do",
            "rollback": "set as champion by --version",
        }
        return f"{subject} {verbs[self.decision]}: {self.reason}"

    def tags(self) -> dict[str, str]:
        """The decision as model-version tags (values are strings)."""
        values = {
            "decision": self.decision,
            "reason": self.reason,
            "when": self.decided_at,
            "forced": str(self.forced).lower(),
            "metric": self.metric,
            "margin": f"{self.margin:g}",
            "challenger_value": _fmt(self.challenger_value),
            "champion_value": _fmt(self.champion_value),
            "champion_before": self.champion_before or "",
        }
        return {TAG_PREFIX + key: value for key, value in values.items()}


def _fmt(value: float | None) -> str:
    return "" if value is None else f"{value:.6f}"


def _score(evaluate: Evaluate | None, name: str, version: str, metric: str) -> float | None:
    if evaluate is None:
        return None
    metrics = evaluate(version_uri(name, version))
    if metric not in metrics:
        raise RegistryError(f"evaluation of {name} v{version} has no metric {metric!r}")
    return float(metrics[metric])


def _gate(challenger: float | None, champion: float | None, margin: float) -> tuple[bool, str]:
    """Whether the challenger beats the champion by more than ``margin``, and why."""
    if challenger is None or champion is None:
        return False, "no evaluation given, cannot compare"
    if math.isnan(challenger) or math.isnan(champion):
        return False, f"metric undefined (challenger {challenger}, champion {champion})"
    verdict = "beats" if challenger > champion + margin else "does not beat"
    return (
        challenger > champion + margin,
        f"challenger {challenger:.4f} {verdict} champion {champion:.4f} + margin {margin:g}",
    )


def promote(
    client: MlflowClient,
    name: str,
    *,
    evaluate: Evaluate | None,
    margin: float = 0.0,
    force: bool = False,
    reason: str | None = None,
    version: str | None = None,
    metric: str = PRIMARY_METRIC,
    brier_tolerance: float | None = None,
) -> PromotionDecision:
    """Run the promotion gate and move ``champion`` when it passes; record the decision.

    ``evaluate(model_uri)`` re-scores a model on the current ledger's latest out-of-time
    test split and returns its metrics. The challenger passes when its ``metric`` exceeds
    the champion's by more than ``margin``; no champion yet passes; ``force`` overrides a
    refusal. ``version`` skips the gate and sets ``champion`` to that version (rollback).
    With ``brier_tolerance``, a challenger that passes must also not have a Brier score of
    P(late) worse than the champion's by more than the tolerance. Each model is evaluated once.
    """
    evaluate = _memoized(evaluate) if evaluate is not None else None
    champion = aliases_of(client, name).get(CHAMPION_ALIAS)
    gate = _Gate(evaluate, metric, margin, force, brier_tolerance)
    decision, candidate, values, why = _choose(client, name, champion, version, reason, gate)
    result = PromotionDecision(
        name=name,
        decision=decision,  # type: ignore[arg-type]
        challenger_version=candidate,
        champion_before=champion,
        champion_after=candidate if decision not in ("refused", "noop") else champion,
        metric=metric,
        challenger_value=values[0],
        champion_value=values[1],
        margin=margin,
        forced=decision == "forced",
        reason=why,
        decided_at=datetime.now(UTC).isoformat(timespec="seconds"),
    )
    _record(client, result)
    return result


@dataclass(frozen=True)
class _Gate:
    """The gate's settings for one promotion: how to score, on what, by how much, forced."""

    evaluate: Evaluate | None
    metric: str
    margin: float
    force: bool
    brier_tolerance: float | None = None


def _choose(
    client: MlflowClient,
    name: str,
    champion: str | None,
    version: str | None,
    reason: str | None,
    gate: _Gate,
) -> tuple[str, str, tuple[float | None, float | None], str]:
    """(decision, candidate version, (challenger value, champion value), reason).

    An explicit ``version`` is a rollback: no gate, the caller's reason (or a default).
    Otherwise the challenger goes through the gate and the caller's reason is appended.
    """
    if version is not None:
        get_version(client, name, version)
        why = reason or f"requested version {version} (was {champion or 'none'})"
        return "rollback", str(version), (None, None), why
    candidate = str(get_version_by_alias(client, name, CHALLENGER_ALIAS).version)
    decision, values, why = _decide(name, candidate, champion, gate)
    return decision, candidate, values, f"{why}; {reason}" if reason else why


def _memoized(evaluate: Evaluate) -> Evaluate:
    """``evaluate`` computed once per model URI (the gate reads two metrics of each)."""
    cache: dict[str, Mapping[str, float]] = {}

    def cached(model_uri: str) -> Mapping[str, float]:
        if model_uri not in cache:
            cache[model_uri] = evaluate(model_uri)
        return cache[model_uri]

    return cached


def _calibration_guard(
    gate: _Gate, name: str, candidate: str, champion: str, why: str
) -> tuple[bool, str]:
    """Refuse a challenger whose Brier score of P(late) exceeds the champion's + tolerance."""
    tolerance = gate.brier_tolerance or 0.0
    challenger = _score(gate.evaluate, name, candidate, CALIBRATION_METRIC)
    incumbent = _score(gate.evaluate, name, champion, CALIBRATION_METRIC)
    if challenger is None or incumbent is None or math.isnan(challenger + incumbent):
        return (
            False,
            f"{why}; Brier P(late) undefined (challenger {challenger}, champion {incumbent})",
        )
    detail = f"Brier P(late) {challenger:.4f} vs champion {incumbent:.4f} (tolerance {tolerance:g})"
    if challenger > incumbent + tolerance:
        return False, f"{why}; but calibration is worse beyond the tolerance: {detail}"
    return True, f"{why}; {detail}"


def _decide(
    name: str, candidate: str, champion: str | None, gate: _Gate
) -> tuple[str, tuple[float | None, float | None], str]:
    """The gate proper: (decision, (challenger value, champion value), reason).

    A champion that cannot be re-scored (e.g. trained on other feature code) is an error,
    unless forced.
    """
    if champion == str(candidate):
        return "noop", (None, None), f"challenger v{candidate} is already the champion"
    challenger_value = _score(gate.evaluate, name, candidate, gate.metric)
    if champion is None:
        return "first", (challenger_value, None), "no champion yet"
    try:
        champion_value = _score(gate.evaluate, name, champion, gate.metric)
    except PayriskError as error:
        why = f"champion v{champion} cannot be re-scored ({error})"
        if gate.force:
            return "forced", (challenger_value, None), f"{why}; overridden by --force"
        raise RegistryError(f"{why}; use --force, or --version to pick one") from error
    passed, why = _gate(challenger_value, champion_value, gate.margin)
    if passed and gate.brier_tolerance is not None:
        passed, why = _calibration_guard(gate, name, candidate, champion, why)
    if passed:
        return "promoted", (challenger_value, champion_value), why
    if gate.force:
        return "forced", (challenger_value, champion_value), f"{why}; overridden by --force"
    return "refused", (challenger_value, champion_value), why


def _record(client: MlflowClient, result: PromotionDecision) -> None:
    """Write the decision's tags, then move the alias: a failed write moves nothing."""
    if result.decision == "noop":
        return
    for key, value in result.tags().items():
        client.set_model_version_tag(result.name, result.challenger_version, key, value)
    if not result.promoted or result.champion_after is None:
        return
    if result.champion_before is not None:
        client.set_model_version_tag(
            result.name,
            result.champion_before,
            TAG_PREFIX + "superseded_by",
            f"v{result.champion_after} at {result.decided_at}",
        )
    client.set_registered_model_alias(result.name, CHAMPION_ALIAS, result.champion_after)
