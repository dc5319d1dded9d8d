"""The payment-risk model as an MLflow pyfunc, so ``mlflow models serve`` works on it.

Artifacts: the joblib-dumped ``PaymentRiskModel``, its JSON card (``models.pyfunc_card``)
and, in newer models, the training-time reference profile (``models.drift``). ``predict``
takes a frame of feature columns and returns the bucket probabilities (``p_on_time``,
``p_late_1_30``, ...) plus ``p_late``, ``p_over_<edge>`` and ``expected_days_late`` (days);
the frames in and out are built by ``models.pyfunc_frames``. Serving unwraps the
``PaymentRiskModel`` itself (``load_payment_risk_model``) to reach ``predict_frame`` and
the explanations.

``PaymentRiskPyfunc`` must stay in this module: MLflow pickles it with cloudpickle *by
reference* (``models.pyfunc.PaymentRiskPyfunc``), so every model logged so far loads it
from here. The card and frame helpers are re-exported for the callers that import them
from here.
"""

from __future__ import annotations

import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import joblib
import mlflow
import numpy as np
import pandas as pd
from mlflow.models import ModelSignature, infer_signature
from mlflow.models.model import ModelInfo
from mlflow.pyfunc import PyFuncModel, PythonModel, PythonModelContext
from mlflow.types import ColSpec, Schema, TensorSpec

from ledger.errors import PayriskError
from models.drift import ReferenceProfile
from models.mlflow_store import tracking_uri_set
from models.pyfunc_card import (
    ModelCard,
    RiskModel,
    feature_code_version,
    make_card,
    payrisk_version,
)
from models.pyfunc_frames import (
    FeatureInputError,
    bucket_frame,
    model_frame,
    output_columns,
    signature_frame,
)

__all__ = [
    "CARD_ARTIFACT",
    "MODEL_ARTIFACT",
    "PROFILE_ARTIFACT",
    "PYFUNC_NAME",
    "RUNTIME_PACKAGES",
    "FeatureInputError",
    "LoadedModel",
    "ModelCard",
    "ModelLoadError",
    "PaymentRiskPyfunc",
    "RiskModel",
    "bucket_frame",
    "feature_code_version",
    "infer_model_signature",
    "load_payment_risk_model",
    "log_pyfunc_model",
    "make_card",
    "model_frame",
    "output_columns",
    "payrisk_version",
    "runtime_requirements",
    "signature_frame",
    "tracking_uri_set",
]

MODEL_ARTIFACT = "payment_risk_model"
CARD_ARTIFACT = "model_card"
PROFILE_ARTIFACT = "reference_profile"  # models.drift.ReferenceProfile; absent in older models
PYFUNC_NAME = "model"
# Packages the pyfunc needs at load time; pinned to what trained it, so no slow inference.
RUNTIME_PACKAGES = ("mlflow", "lightgbm", "scikit-learn", "pandas", "numpy", "joblib", "pyarrow")


class ModelLoadError(PayriskError):
    """A model URI that does not exist or does not hold a payment-risk model."""


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
