"""The served model: loaded from the registry alias, checked, swapped atomically, polled.

``ModelHolder.current()`` returns an immutable ``ModelSnapshot``; a request takes it once
and finishes on it even if a reload swaps in another version meanwhile. ``reload()``
resolves the alias, loads that version beside the served one, checks it by predicting
on its input example, and only then swaps. On any failure the old model keeps serving and
the error is kept (``status()``), so ``/readyz`` can say why. A daemon thread polls the
alias every ``poll_seconds``; a version that failed is not retried by the poller until the
alias moves again (``reload()`` always tries).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

import numpy as np
import pandas as pd
from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion

from ledger.errors import PayriskError
from models.pyfunc import LoadedModel, load_payment_risk_model
from models.registry import get_version_by_alias, open_registry

logger = logging.getLogger("serving.model")

Outcome = Literal["loaded", "unchanged", "failed", "skipped"]
Loader = Callable[[str, str], LoadedModel]  # (artifact uri, tracking uri) -> model
# Bucket probabilities of one row must sum to 1 within this.
_PROBA_TOLERANCE = 1e-6


class ModelCheckError(PayriskError):
    """A loaded model that does not predict sanely on its own input example."""


@dataclass(frozen=True)
class ModelSnapshot:
    """One loaded version and where it came from; never changes once made."""

    model: LoadedModel
    name: str
    alias: str
    version: str
    run_id: str | None
    registered_at: datetime | None
    loaded_at: datetime

    @property
    def model_uri(self) -> str:
        """The registry URI of exactly this version."""
        return f"models:/{self.name}/{self.version}"

    @property
    def identity(self) -> str | datetime:
        """What tells this model's answers from another's, in any worker that loads it: its
        training run (a registered version's artifact never changes), else, when it has
        none, the moment this worker loaded it (its answers are then this worker's alone)."""
        return self.run_id or self.loaded_at


@dataclass(frozen=True)
class HolderStatus:
    """What the holder serves and how its last attempts went."""

    name: str
    alias: str
    snapshot: ModelSnapshot | None
    last_error: str | None
    last_error_at: datetime | None
    reload_failures: int
    last_checked_at: datetime | None

    @property
    def ready(self) -> bool:
        return self.snapshot is not None

    @property
    def version(self) -> str | None:
        return None if self.snapshot is None else self.snapshot.version

    @property
    def run_id(self) -> str | None:
        return None if self.snapshot is None else self.snapshot.run_id


@dataclass(frozen=True)
class ReloadOutcome:
    """The result of one reload or poll: what happened, what serves now, what was tried."""

    outcome: Outcome
    serving_version: str | None
    previous_version: str | None
    attempted_version: str | None
    error: str | None = None


def _load_from_registry(artifact_uri: str, tracking_uri: str) -> LoadedModel:
    return load_payment_risk_model(artifact_uri, tracking_uri=tracking_uri)


def check_model(loaded: LoadedModel) -> None:
    """Predict on the model's input example (else one all-missing row) and check the output.

    Raises ``ModelCheckError`` when the rows, probabilities or their sums are wrong.
    """
    example = loaded.pyfunc.input_example
    if not isinstance(example, pd.DataFrame) or example.empty:
        example = pd.DataFrame({name: [None] for name in loaded.card.feature_names})
    try:
        output = loaded.predict_buckets(example)
    except Exception as error:  # any failure to predict means the model is unusable
        raise ModelCheckError(f"predicting on the input example failed: {error}") from error
    bucket_columns = [f"p_{label}" for label in loaded.card.buckets.labels]
    proba = output[bucket_columns].to_numpy(dtype="float64")
    if len(output) != len(example):
        raise ModelCheckError(f"{len(example)} example rows gave {len(output)} predictions")
    if not np.isfinite(proba).all() or (proba < 0).any() or (proba > 1).any():
        raise ModelCheckError("bucket probabilities outside [0, 1] on the input example")
    if not np.allclose(proba.sum(axis=1), 1.0, atol=_PROBA_TOLERANCE):
        raise ModelCheckError("bucket probabilities do not sum to 1 on the input example")


def _registered_at(version: ModelVersion) -> datetime | None:
    if version.creation_timestamp is None:
        return None
    return datetime.fromtimestamp(version.creation_timestamp / 1000, UTC)


def _error_text(error: BaseException) -> str:
    text = str(error).strip().splitlines()[0] if str(error).strip() else repr(error)
    return text[:500]


class ModelHolder:
    """Holds the served version of ``models:/<model_name>@<alias>``; thread-safe."""

    def __init__(
        self,
        tracking_uri: str,
        model_name: str,
        alias: str = "champion",
        poll_seconds: float = 30.0,
        loader: Loader = _load_from_registry,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.model_name = model_name
        self.alias = alias
        self.poll_seconds = poll_seconds
        self._loader = loader
        self._snapshot: ModelSnapshot | None = None
        self._lock = threading.Lock()  # one load at a time; readers never take it
        self._client: MlflowClient | None = None
        self._last_error: str | None = "not started"
        self._last_error_at: datetime | None = None
        self._failed_version: str | None = None
        self._reload_failures = 0
        self._last_checked_at: datetime | None = None
        self._stop = threading.Event()
        self._poller: threading.Thread | None = None

    def current(self) -> ModelSnapshot | None:
        """The snapshot being served, or None before any model loaded."""
        return self._snapshot

    def status(self) -> HolderStatus:
        """The served snapshot, the last error (None once resolved) and the failure count."""
        return HolderStatus(
            name=self.model_name,
            alias=self.alias,
            snapshot=self._snapshot,
            last_error=self._last_error,
            last_error_at=self._last_error_at,
            reload_failures=self._reload_failures,
            last_checked_at=self._last_checked_at,
        )

    def registry_client(self) -> MlflowClient:
        """A client on the tracking store / registry, checked reachable on first use."""
        if self._client is None:
            self._client = open_registry(self.tracking_uri)
        return self._client

    def start(self) -> ReloadOutcome:
        """Load the alias's version now, then poll in the background (if poll_seconds > 0)."""
        self._stop.clear()
        outcome = self.reload()
        if self.poll_seconds > 0 and self._poller is None:
            self._poller = threading.Thread(
                target=self._poll_loop, name="payrisk-model-poller", daemon=True
            )
            self._poller.start()
        return outcome

    def stop(self, timeout_seconds: float = 10.0) -> None:
        """Stop the poller (waits for a load in progress, up to the timeout)."""
        self._stop.set()
        if self._poller is not None:
            self._poller.join(timeout_seconds)
            self._poller = None

    def reload(self, force: bool = False) -> ReloadOutcome:
        """Load the version the alias points at, unless it is already served (or ``force``)."""
        return self._check(retry_failed=True, force=force)

    def poll_once(self) -> ReloadOutcome:
        """What the poller does: like ``reload()``, but a version that failed is skipped."""
        return self._check(retry_failed=False, force=False)

    def _poll_loop(self) -> None:
        while not self._stop.wait(self.poll_seconds):
            try:
                self.poll_once()
            except Exception:  # the poller must survive anything; the next tick retries
                logger.exception("model poll failed")

    def _check(self, *, retry_failed: bool, force: bool) -> ReloadOutcome:
        with self._lock:
            self._last_checked_at = datetime.now(UTC)
            serving = self._snapshot.version if self._snapshot else None
            try:
                version = get_version_by_alias(self.registry_client(), self.model_name, self.alias)
            except Exception as error:  # registry down, no such model or alias
                self._record_error(f"cannot resolve models:/{self.model_name}@{self.alias}", error)
                return ReloadOutcome("failed", serving, serving, None, self._last_error)
            wanted = str(version.version)
            if wanted == serving and not force:
                self._last_error, self._failed_version = None, None
                return ReloadOutcome("unchanged", serving, serving, wanted)
            if wanted == self._failed_version and not retry_failed:
                return ReloadOutcome("skipped", serving, serving, wanted, self._last_error)
            return self._load(version, serving)

    def _load(self, version: ModelVersion, serving: str | None) -> ReloadOutcome:
        wanted = str(version.version)
        try:
            artifact_uri = self.registry_client().get_model_version_download_uri(
                self.model_name, wanted
            )
            loaded = self._loader(artifact_uri, self.tracking_uri)
            check_model(loaded)
        except Exception as error:  # whatever broke, the served model stays
            self._reload_failures += 1
            self._failed_version = wanted
            self._record_error(f"cannot load version {wanted} of {self.model_name!r}", error)
            return ReloadOutcome("failed", serving, serving, wanted, self._last_error)
        self._snapshot = ModelSnapshot(
            model=loaded,
            name=self.model_name,
            alias=self.alias,
            version=wanted,
            run_id=version.run_id,
            registered_at=_registered_at(version),
            loaded_at=datetime.now(UTC),
        )
        self._last_error, self._failed_version = None, None
        logger.info(
            "model loaded",
            extra={"fields": {"model": self.model_name, "version": wanted, "previous": serving}},
        )
        return ReloadOutcome("loaded", wanted, serving, wanted)

    def _record_error(self, what: str, error: BaseException) -> None:
        self._last_error = f"{what}: {_error_text(error)}"
        self._last_error_at = datetime.now(UTC)
        serving = self._snapshot.version if self._snapshot else None
        logger.warning(
            "model reload failed",
            extra={"fields": {"error": self._last_error, "serving_version": serving}},
        )
