"""Reaching the MLflow store: a checked client, and MLflow's process-wide URIs set for a block.

MLflow keeps the tracking and registry URIs in globals (mirrored into environment
variables); ``tracking_uri_set`` points them at one store for a block and puts them back,
one thread at a time. ``open_registry`` builds a client and checks, fast, that the store
answers, so an unreachable store is one clear ``TrackingStoreUnreachableError`` instead of
minutes of retries.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from urllib.parse import urlparse

import mlflow
from mlflow import MlflowClient
from mlflow.tracking._model_registry import utils as _registry_utils
from mlflow.tracking._tracking_service import utils as _tracking_utils

from models.registry_errors import TrackingStoreUnreachableError

# The reachability check must fail fast, not after MLflow's default 7 retries.
CHECK_HTTP_RETRIES = "0"
_TRACKING_ENV, _REGISTRY_ENV = "MLFLOW_TRACKING_URI", "MLFLOW_REGISTRY_URI"
# Reentrant: registering inside a logged run nests tracking_uri_set on the same thread.
_GLOBAL_URI_LOCK = threading.RLock()


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
