"""The payment-risk model as an MLflow pyfunc, so ``mlflow models serve`` works on it.

Artifacts: the joblib-dumped ``PaymentRiskModel`` and a JSON card (bucket scheme, feature
names and dtypes, the feature code version). ``predict`` takes a frame of feature
columns and returns the bucket probabilities (``p_on_time``, ``p_late_1_30``, ...) plus
``p_late``, ``p_over_<edge>`` and ``expected_days_late`` (days). Serving unwraps the
``PaymentRiskModel`` itself (``load_payment_risk_model``) to reach ``predict_frame`` and
the explanations.
"""

from __future__ import annotations

import hashlib
import importlib.util
import json
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any, Protocol

import joblib
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PyFuncModel, PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema, TensorSpec

from ledger.errors import PayriskError
from models.buckets import LateBuckets
from models.drift import ReferenceProfile
from models.registry import tracking_uri_set

MODEL_ARTIFACT = "payment_risk_model"
CARD_ARTIFACT = "model_card"
PROFILE_ARTIFACT = "reference_profile"  # models.drift.ReferenceProfile; absent in older models
PYFUNC_NAME = "model"
# Packages the pyfunc needs at load time; pinned to what trained it, so no slow inference.
RUNTIME_PACKAGES = ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "joblib", "pyarrow")


class ModelLoadError(PayriskError):
    """A model URI that does not exist or does not hold a payment-risk model."""


class FeatureInputError(PayriskError):
    """A feature frame the model cannot score (missing columns)."""


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


def output_columns(buckets: LateBuckets) -> list[str]:
    """The pyfunc's output columns, in order."""
    over = [f"p_over_{edge}" for edge in buckets.edges_days if edge > 0]
    return [f"p_{label}" for label in buckets.labels] + ["p_late", *over, "expected_days_late"]


def bucket_frame(proba: np.ndarray, card: ModelCard, index: pd.Index) -> pd.DataFrame:
    """Bucket probabilities -> the output frame (P(late), P(> edge), expected days late).

    Same columns as ``PaymentRiskModel.predict_frame`` without the payment date; expected
    days late is the probability-weighted bucket days (no as-of date, so no overdue floor).
    """
    buckets = card.buckets
    proba = buckets.check_proba(proba)
    columns: dict[str, np.ndarray] = {
        f"p_{label}": proba[:, position] for position, label in enumerate(buckets.labels)
    }
    columns["p_late"] = buckets.p_late(proba)
    for edge in (edge for edge in buckets.edges_days if edge > 0):
        columns[f"p_over_{edge}"] = buckets.p_over(proba, edge)
    columns["expected_days_late"] = proba @ np.asarray(card.representative_days, dtype="float64")
    return pd.DataFrame(columns, index=index)


def signature_frame(features: pd.DataFrame, card: ModelCard) -> pd.DataFrame:
    """Features as the signature sees them: categoricals as str (None if missing), else float."""
    columns: dict[str, pd.Series] = {}
    for name in card.feature_names:
        values = features[name]
        if name in card.categorical_features:
            text = values.astype("string").astype(object)
            columns[name] = text.where(text.notna(), None)
        else:
            columns[name] = pd.to_numeric(values, errors="coerce").astype("float64")
    return pd.DataFrame(columns, index=features.index)


def model_frame(features: pd.DataFrame, card: ModelCard) -> pd.DataFrame:
    """Features as a client sends them -> the model's columns: categoricals as text, else float.

    The estimator maps text to its learned levels itself (unseen or missing -> missing).
    """
    missing = [name for name in card.feature_names if name not in features.columns]
    if missing:
        raise FeatureInputError(f"input is missing feature columns {missing}")
    columns = {
        name: features[name].astype("string")
        if name in card.categorical_features
        else pd.to_numeric(features[name], errors="coerce").astype("float64")
        for name in card.feature_names
    }
    return pd.DataFrame(columns, index=features.index)


class PaymentRiskPyfunc(PythonModel):
    """The pyfunc wrapper; state comes from the artifacts in ``load_context``."""

    def load_context(self, context: PythonModelContext) -> None:
        """Load the joblib model and its card."""
        self.model = joblib.load(context.artifacts[MODEL_ARTIFACT])
        self.card = ModelCard.from_json(Path(context.artifacts[CARD_ARTIFACT]).read_text())
        profile = context.artifacts.get(PROFILE_ARTIFACT)
        self.reference = (
            None if profile is None else ReferenceProfile.from_json(Path(profile).read_text())
        )

    def predict(
        self,
        context: PythonModelContext,
        model_input: pd.DataFrame,
        params: dict[str, Any] | None = None,
    ) -> pd.DataFrame:
        """Bucket probabilities, P(late), P(> edge) and expected days late per row."""
        features = model_frame(pd.DataFrame(model_input), self.card)
        proba = self.model.predict_proba(features)
        return bucket_frame(proba, self.card, features.index)


def runtime_requirements() -> list[str]:
    """Pinned pip requirements of the pyfunc environment."""
    pins = []
    for package in RUNTIME_PACKAGES:
        try:
            pins.append(f"{package}=={version(package)}")
        except PackageNotFoundError:
            pins.append(package)
    return pins


def infer_model_signature(example: pd.DataFrame, card: ModelCard) -> ModelSignature:
    """Signature from the input example with every feature optional (NaN / None allowed)."""
    outputs = bucket_frame(
        np.full((1, card.buckets.n_classes), 1.0 / card.buckets.n_classes), card, pd.RangeIndex(1)
    )
    inferred = infer_signature(signature_frame(example, card), outputs)
    optional: list[ColSpec | TensorSpec] = [
        ColSpec(type=spec.type, name=spec.name, required=False) for spec in inferred.inputs.inputs
    ]
    return ModelSignature(inputs=Schema(optional), outputs=inferred.outputs)


def log_pyfunc_model(
    model: RiskModel,
    card: ModelCard,
    input_example: pd.DataFrame,
    *,
    name: str = PYFUNC_NAME,
    metadata: Mapping[str, str] | None = None,
    reference: ReferenceProfile | None = None,
) -> ModelInfo:
    """Log ``model`` as a pyfunc in the active MLflow run; returns MLflow's ModelInfo."""
    example = signature_frame(input_example, card)
    with tempfile.TemporaryDirectory(prefix="payrisk-pyfunc-") as folder:
        model_path = Path(folder) / "payment_risk_model.joblib"
        card_path = Path(folder) / "model_card.json"
        joblib.dump(model, model_path)
        card_path.write_text(card.to_json())
        artifacts = {MODEL_ARTIFACT: str(model_path), CARD_ARTIFACT: str(card_path)}
        if reference is not None:
            profile_path = Path(folder) / "reference_profile.json"
            profile_path.write_text(reference.to_json())
            artifacts[PROFILE_ARTIFACT] = str(profile_path)
        return mlflow.pyfunc.log_model(
            name=name,
            python_model=PaymentRiskPyfunc(),
            artifacts=artifacts,
            signature=infer_model_signature(input_example, card),
            input_example=example,
            pip_requirements=runtime_requirements(),
            metadata={
                "feature_code_version": card.feature_code_version,
                "payrisk_version": card.payrisk_version,
                **dict(metadata or {}),
            },
        )


@dataclass(frozen=True)
class LoadedModel:
    """A payment-risk model loaded from MLflow: the estimator itself, its card, its pyfunc."""

    model_uri: str
    model: Any
    card: ModelCard
    pyfunc: PyFuncModel
    reference: ReferenceProfile | None = None  # the training-time profile (models.drift)

    def predict_buckets(self, features: pd.DataFrame) -> pd.DataFrame:
        """The pyfunc's output for a feature frame (without MLflow's schema enforcement)."""
        frame = model_frame(features, self.card)
        return bucket_frame(self.model.predict_proba(frame), self.card, frame.index)


def load_payment_risk_model(model_uri: str, *, tracking_uri: str | None = None) -> LoadedModel:
    """Load a logged or registered model (``models:/payment-risk@champion``) and unwrap it.

    Raises ``ModelLoadError`` when the URI does not resolve or is not a payment-risk model.
    """
    try:
        with tracking_uri_set(tracking_uri):
            pyfunc = mlflow.pyfunc.load_model(model_uri)
    except Exception as error:  # MLflow raises several types for "not there"
        first_line = (str(error).strip().splitlines() or [repr(error)])[0][:300]
        raise ModelLoadError(f"cannot load model {model_uri!r}: {first_line}") from error
    wrapper = pyfunc.unwrap_python_model()
    if not isinstance(wrapper, PaymentRiskPyfunc):
        raise ModelLoadError(f"model {model_uri!r} is not a payment-risk model")
    return LoadedModel(
        model_uri=model_uri,
        model=wrapper.model,
        card=wrapper.card,
        pyfunc=pyfunc,
        reference=getattr(wrapper, "reference", None),
    )
