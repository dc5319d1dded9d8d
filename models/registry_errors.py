"""The errors of the MLflow model registry, in one place below everything that raises them.

Every module of the registry (``mlflow_store``, ``registry_versions``, ``promotion``)
raises these; keeping them apart lets each of those import them without importing the
others. All are ``PayriskError`` so the CLI and the API turn them into a clear message.
"""

from __future__ import annotations

from ledger.errors import PayriskError


class RegistryError(PayriskError):
    """A registry operation the user asked for cannot be done."""


class TrackingStoreUnreachableError(RegistryError):
    """The MLflow tracking store / registry cannot be reached or created."""


class ModelNotFoundError(RegistryError):
    """A registered model, a version or a model URI does not exist."""


class AliasNotFoundError(RegistryError):
    """A registered model has no version under the given alias."""
