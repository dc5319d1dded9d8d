"""The MLflow model registry: versions, the aliases ``champion`` / ``challenger``, the gate.

Aliases, never stages (DESIGN.md, "MLflow"): ``champion`` serves, ``challenger`` is the
candidate ``payrisk train`` registers. ``promote`` moves ``champion`` only when the
challenger beats it on the same out-of-time test, scored by a function the caller passes
(so ``models/`` stays free of ``training/``). Every decision is written as tags on the
model version it is about.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal
from urllib.parse import urlparse

import mlflow
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException
from mlflow.tracking._model_registry import utils as _registry_utils
from mlflow.tracking._tracking_service import utils as _tracking_utils

from ledger.errors import PayriskError

CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"
# ROC AUC of P(late) on the latest out-of-time test split: on small ledgers it has many
# more positives than P(> 30 days), so the gate is less noisy; it is also the headline
# metric of the targets.
PRIMARY_METRIC = "roc_auc_late"
# The calibration guard (``brier_tolerance``): Brier score of P(late), lower is better.
CALIBRATION_METRIC = "brier_late"
TAG_PREFIX = "promotion."
# The reachability check must fail fast, not after MLflow's default 7 retries.
CHECK_HTTP_RETRIES = "0"
_TRACKING_ENV, _REGISTRY_ENV = "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"
# Reentrant: registering inside a logged run nests tracking_uri_set on the same thread.
_GLOBAL_URI_LOCK = threading.RLock()

Decision = Literal["promoted", "first", "forced", "refused", "noop", "rollback"]
Evaluate = Callable[[str], Mapping[str, float]]


class RegistryError(PayriskError):
    """A registry operation the user asked for cannot be done."""


class TrackingStoreUnreachableError(RegistryError):
    """The MLflow tracking store / registry cannot be reached or created."""


class ModelNotFoundError(RegistryError):
    """A registered model, a version or a model URI does not exist."""


class AliasNotFoundError(RegistryError):
    """A registered model has no version under the given alias."""


@contextmanager
def _temporary_env(values: Mapping[str, str]) -> Iterator[None]:
    """Set environment variables for a block; restore (or unset) them afterwards."""
    saved = {key: os.environ.get(key) for key in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@contextmanager
def tracking_uri_set(tracking_uri: str | None) -> Iterator[None]:
    """Temporarily point MLflow's global tracking and registry URIs at ``tracking_uri``.

    MLflow mirrors them into ``MLFLOW_TRACKING_URI`` / ``MLFLOW_REGISTRY_URI``; both the
    globals and the variables are put back exactly as they were (unset stays unset).
    Process-wide state, so one thread at a time (a server reloads models in the background).
    """
    if tracking_uri is None:
        yield
        return
    with _GLOBAL_URI_LOCK:
        # Read the raw globals: the public getters return a default when nothing is set.
        previous_tracking = getattr(_tracking_utils, "_tracking_uri", None)
        previous_registry = getattr(_registry_utils, "_registry_uri", None)
        with _temporary_env({_TRACKING_ENV: tracking_uri, _REGISTRY_ENV: tracking_uri}):
            mlflow.set_tracking_uri(tracking_uri)
            mlflow.set_registry_uri(tracking_uri)
            try:
                yield
            finally:
                mlflow.set_tracking_uri(previous_tracking)  # type: ignore[arg-type]  # None unsets
                _registry_utils._registry_uri = previous_registry


def _check_sqlite_folder(tracking_uri: str) -> None:
    """A sqlite store needs an existing, writable folder; say which one is missing."""
    database_path = Path(tracking_uri.removeprefix("sqlite:///"))
    folder = database_path.parent
    if not folder.is_dir():
        raise TrackingStoreUnreachableError(
            f"MLflow tracking store {tracking_uri!r}: folder {str(folder)!r} does not exist"
        )
    if not os.access(folder, os.W_OK) and not database_path.exists():
        raise TrackingStoreUnreachableError(
            f"MLflow tracking store {tracking_uri!r}: folder {str(folder)!r} is not writable"
        )


def open_registry(tracking_uri: str, *, timeout_seconds: float = 5.0) -> MlflowClient:
    """A client on ``tracking_uri`` (also the registry), checked to answer within the timeout.

    Raises ``TrackingStoreUnreachableError`` naming the URI and the cause.
    """
    if tracking_uri.startswith("sqlite:///") and ":memory:" not in tracking_uri:
        _check_sqlite_folder(tracking_uri)
    check_env = {
        "MLFLOW_HTTP_REQUEST_MAX_RETRIES": CHECK_HTTP_RETRIES,
        "MLFLOW_HTTP_REQUEST_TIMEOUT": str(max(1, math.ceil(timeout_seconds))),
    }
    try:
        with _temporary_env(check_env):
            # A database store connects (and migrates) when the client is built.
            client = MlflowClient(tracking_uri=tracking_uri, registry_uri=tracking_uri)
            client.search_experiments(max_results=1)
    except Exception as error:  # any store/driver/network error means "not reachable"
        cause = str(error).strip().splitlines()[0][:300] if str(error).strip() else repr(error)
        raise TrackingStoreUnreachableError(
            f"MLflow tracking store {_redacted(tracking_uri)!r} cannot be reached: {cause}"
        ) from error
    return client


def _redacted(uri: str) -> str:
    """The URI without a password, fit for an error message."""
    parsed = urlparse(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri


def version_uri(name: str, version: str) -> str:
    """The ``models:/`` URI of one registered version."""
    return f"models:/{name}/{version}"


def _not_found(error: MlflowException) -> bool:
    return error.error_code == "RESOURCE_DOES_NOT_EXIST"


def get_version(client: MlflowClient, name: str, version: str) -> ModelVersion:
    """One registered version; ``ModelNotFoundError`` when the model or version is absent."""
    try:
        return client.get_model_version(name, str(version))
    except MlflowException as error:
        if _not_found(error):
            raise ModelNotFoundError(f"model {name!r} has no version {version!r}") from error
        raise


def aliases_of(client: MlflowClient, name: str) -> dict[str, str]:
    """The model's aliases, alias -> version; ``ModelNotFoundError`` if no such model."""
    try:
        registered = client.get_registered_model(name)
    except MlflowException as error:
        if _not_found(error):
            raise ModelNotFoundError(
                f"no registered model {name!r} (run `payrisk train` first)"
            ) from error
        raise
    return {alias: str(version) for alias, version in registered.aliases.items()}


def get_version_by_alias(client: MlflowClient, name: str, alias: str) -> ModelVersion:
    """The version under ``alias``; ``AliasNotFoundError`` when the alias is not set."""
    aliases = aliases_of(client, name)
    if alias not in aliases:
        known = ", ".join(f"{key}=v{value}" for key, value in sorted(aliases.items())) or "none"
        raise AliasNotFoundError(f"model {name!r} has no alias {alias!r} (aliases: {known})")
    return get_version(client, name, aliases[alias])


def resolve_model_uri(client: MlflowClient, model_uri: str) -> ModelVersion | None:
    """The registered version a ``models:/name@alias`` or ``models:/name/N`` URI points to.

    None for other URIs (``runs:/``, ``models:/m-...``, paths): loading them says more.
    """
    if not model_uri.startswith("models:/"):
        return None
    reference = model_uri.removeprefix("models:/").strip("/")
    if "@" in reference:
        name, alias = reference.split("@", 1)
        return get_version_by_alias(client, name, alias)
    name, _, version = reference.rpartition("/")
    if name and version.isdigit():
        return get_version(client, name, version)
    return None


def register(
    client: MlflowClient,
    model_uri: str,
    name: str,
    *,
    run_id: str | None = None,
    tags: Mapping[str, str] | None = None,
) -> str:
    """Register the logged model at ``model_uri`` (``models:/m-...``) as a new version of ``name``.

    Returns the new version number as a string.
    """
    try:
        client.create_registered_model(name)
    except MlflowException as error:
        if error.error_code not in ("RESOURCE_ALREADY_EXISTS", "ALREADY_EXISTS"):
            raise
    model_id = model_uri.removeprefix("models:/") if model_uri.startswith("models:/m-") else None
    # The store looks a logged model up through MLflow's global tracking URI.
    with tracking_uri_set(client.tracking_uri):
        created = client.create_model_version(
            name, source=model_uri, run_id=run_id, tags=dict(tags or {}), model_id=model_id
        )
    return str(created.version)


def set_alias(client: MlflowClient, name: str, alias: str, version: str) -> None:
    """Point ``alias`` of model ``name`` at ``version`` (which must exist)."""
    get_version(client, name, version)
    client.set_registered_model_alias(name, alias, str(version))


def delete_version(client: MlflowClient, name: str, version: str) -> None:
    """Delete one version (its aliases go with it)."""
    client.delete_model_version(name, str(version))


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
    aliases = aliases_of(client, name)
    champion = aliases.get(CHAMPION_ALIAS)
    if version is not None:
        get_version(client, name, version)
        decision, candidate = "rollback", str(version)
        values: tuple[float | None, float | None] = (None, None)
        why = reason or f"requested version {version} (was {champion or 'none'})"
    else:
        candidate = get_version_by_alias(client, name, CHALLENGER_ALIAS).version
        decision, values, why = _decide(
            name, candidate, champion, _Gate(evaluate, metric, margin, force, brier_tolerance)
        )
        why = f"{why}; {reason}" if reason else why
    result = PromotionDecision(
        name=name,
        decision=decision,  # type: ignore[arg-type]
        challenger_version=str(candidate),
        champion_before=champion,
        champion_after=str(candidate) if decision not in ("refused", "noop") else champion,
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
    evaluate: Evaluate | None
    metric: str
    margin: float
    force: bool
    brier_tolerance: float | None = None


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
