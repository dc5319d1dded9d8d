"""Registered versions of a model and their aliases: look up, register, point an alias.

Aliases, never stages (DESIGN.md, "MLflow"): ``champion`` serves, ``challenger`` is the
candidate ``payrisk train`` registers. Lookups turn MLflow's "does not exist" into
``ModelNotFoundError`` / ``AliasNotFoundError`` naming the model, version or alias; other
MLflow errors pass through unchanged.
"""

from __future__ import annotations

from collections.abc import Mapping

from mlflow import MlflowClient
from mlflow.entities.model_registry import ModelVersion
from mlflow.exceptions import MlflowException

from models.mlflow_store import tracking_uri_set
from models.registry_errors import AliasNotFoundError, ModelNotFoundError

CHAMPION_ALIAS = "champion"
CHALLENGER_ALIAS = "challenger"


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
