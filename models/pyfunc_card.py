"""The pyfunc's card: what travels with a logged model so it can be read and scored alone.

The bucket scheme, the feature columns with their dtypes and which are categorical, the
days each bucket stands for, and the code versions that trained it (the hash of the
``features`` source, ``feature_code_version``, says which feature code the model expects).
Written as JSON next to the joblib model in every pyfunc (``models.pyfunc``). Not the
human-readable model card of ``training.model_card``.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Protocol

import numpy as np
import pandas as pd

from models.buckets import LateBuckets


class RiskModel(Protocol):
    """What the pyfunc needs of ``models.estimator.PaymentRiskModel``."""

    feature_names_in_: Sequence[str]

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray: ...


@dataclass(frozen=True)
class ModelCard:
    """What travels with the model: buckets, feature columns and dtypes, code versions."""

    edges_days: tuple[int, ...]
    grace_days: int
    feature_names: tuple[str, ...]
    feature_dtypes: dict[str, str]
    categorical_features: tuple[str, ...]
    representative_days: tuple[float, ...]
    feature_code_version: str
    payrisk_version: str

    @property
    def buckets(self) -> LateBuckets:
        """The bucket scheme the model predicts."""
        return LateBuckets(edges_days=self.edges_days, grace_days=self.grace_days)

    @classmethod
    def from_json(cls, text: str) -> ModelCard:
        """Read a card written by ``to_json``."""
        raw = json.loads(text)
        for key in ("edges_days", "feature_names", "categorical_features", "representative_days"):
            raw[key] = tuple(raw[key])
        return cls(**raw)

    def to_json(self) -> str:
        """The card as JSON text."""
        return json.dumps(asdict(self), indent=2, sort_keys=True)


def payrisk_version() -> str:
    """The installed payrisk package version ("unknown" when run from a bare checkout)."""
    try:
        return version("payrisk")
    except PackageNotFoundError:
        return "unknown"


def feature_code_version() -> str:
    """A short hash of the ``features`` package's source: changes when any feature code does."""
    spec = importlib.util.find_spec("features")
    roots = list(spec.submodule_search_locations or []) if spec else []
    digest = hashlib.sha256()
    for root in roots:
        for path in sorted(Path(root).rglob("*.py")):
            digest.update(path.relative_to(root).as_posix().encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


def make_card(
    model: RiskModel,
    buckets: LateBuckets,
    feature_frame: pd.DataFrame,
    categorical_features: Sequence[str] | None = None,
) -> ModelCard:
    """The card of a fitted model; ``feature_frame`` holds its feature columns as trained.

    Categorical features default to the model's ``categorical_features_``; the days each
    bucket stands for to its ``bucket_days_`` (else the buckets' defaults).
    """
    names = tuple(str(name) for name in model.feature_names_in_)
    if categorical_features is None:
        categorical_features = getattr(model, "categorical_features_", ())
    representative = getattr(model, "bucket_days_", None)
    if representative is None:
        representative = buckets.default_representative_days()
    return ModelCard(
        edges_days=tuple(buckets.edges_days),
        grace_days=int(buckets.grace_days),
        feature_names=names,
        feature_dtypes={name: str(feature_frame[name].dtype) for name in names},
        categorical_features=tuple(name for name in categorical_features if name in names),
        representative_days=tuple(float(day) for day in representative),
        feature_code_version=feature_code_version(),
        payrisk_version=payrisk_version(),
    )
