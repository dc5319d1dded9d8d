"""The MLflow model registry, one import for its users: versions, aliases, the gate, the store.

Aliases, never stages (DESIGN.md, "MLflow"): ``champion`` serves, ``challenger`` is the
candidate ``payrisk train`` registers, and ``promote`` moves ``champion`` only through the
gate. The code lives in the modules below; this one re-exports their public names so
``from models.registry import ...`` stays the one path callers (CLI, training, serving,
tests) need:

- ``models.mlflow_store``: a checked client (``open_registry``) and ``tracking_uri_set``;
- ``models.registry_versions``: version and alias lookups, ``register``, ``set_alias``;
- ``models.promotion``: the promotion gate and its recorded ``PromotionDecision``;
- ``models.registry_errors``: the errors all of them raise.
"""

from __future__ import annotations

from models.mlflow_store import CHECK_HTTP_RETRIES, open_registry, tracking_uri_set
from models.promotion import (
    CALIBRATION_METRIC,
    PRIMARY_METRIC,
    TAG_PREFIX,
    Decision,
    Evaluate,
    PromotionDecision,
    promote,
)
from models.registry_errors import (
    AliasNotFoundError,
    ModelNotFoundError,
    RegistryError,
    TrackingStoreUnreachableError,
)
from models.registry_versions import (
    CHALLENGER_ALIAS,
    CHAMPION_ALIAS,
    aliases_of,
    delete_version,
    get_version,
    get_version_by_alias,
    register,
    resolve_model_uri,
    set_alias,
    version_uri,
)

__all__ = [
    "CALIBRATION_METRIC",
    "CHALLENGER_ALIAS",
    "CHAMPION_ALIAS",
    "CHECK_HTTP_RETRIES",
    "PRIMARY_METRIC",
    "TAG_PREFIX",
    "AliasNotFoundError",
    "Decision",
    "Evaluate",
    "ModelNotFoundError",
    "PromotionDecision",
    "RegistryError",
    "TrackingStoreUnreachableError",
    "aliases_of",
    "delete_version",
    "get_version",
    "get_version_by_alias",
    "open_registry",
    "promote",
    "register",
    "resolve_model_uri",
    "set_alias",
    "tracking_uri_set",
    "version_uri",
]
