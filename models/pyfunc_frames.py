"""The pyfunc's input and output frames: client features in, bucket probabilities out.

``model_frame`` turns features as a client sends them (JSON, CSV: categoricals as text,
numbers possibly as text) into the estimator's columns; ``signature_frame`` is the same
for MLflow's signature and input example (categoricals as ``str``/None). ``bucket_frame``
turns bucket probabilities into the output (P(late), P(> edge), expected days late)
without an as-of date, so with no overdue floor (``models.prediction_columns`` has it).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ledger.errors import PayriskError
from models.buckets import LateBuckets
from models.prediction_columns import probability_columns
from models.pyfunc_card import ModelCard


class FeatureInputError(PayriskError):
    """A feature frame the model cannot score (missing columns)."""


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
    columns = probability_columns(buckets, proba)
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
