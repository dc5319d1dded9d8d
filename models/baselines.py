"""Baselines the model must beat, with the model's shape: ``fit(X, y, *, X_val, y_val)``,
``predict_proba(X)`` (one column per bucket) and ``priority(X)`` (worklist order).

* ``AgingBaseline`` -- what most AR teams do today: chase by days overdue x open amount.
* ``HistoricalLateRatioBaseline`` -- the customer's point-in-time late ratio by count.
* ``LogisticBaseline`` -- multinomial logistic regression on the same features.

The two score baselines turn their score into probabilities with the ordinal
calibrator of ``models.calibration`` (isotonic maps of the score to P(late) and to each
"one bucket further" step, so every S_k = P(bucket >= k) is monotone in the score),
fitted on the training rows, so Brier and log loss compare with the model's. They
ignore the validation rows (accepted for a uniform interface).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.compose import ColumnTransformer
from sklearn.impute import SimpleImputer
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import OneHotEncoder, StandardScaler
from sklearn.utils.validation import check_is_fitted

from models.buckets import LateBuckets
from models.calibration import OrdinalCalibrator
from models.estimator import FeatureMismatchError, TrainingDataError, is_categorical

_MISSING_LEVEL = "__missing__"


def _column(X: pd.DataFrame, name: str) -> np.ndarray:
    if name not in X.columns:
        raise FeatureMismatchError(f"this baseline needs the feature column {name!r}")
    return pd.to_numeric(X[name]).astype("float64").to_numpy(na_value=np.nan)


def _check_labels(y: np.ndarray, buckets: LateBuckets, n_rows: int) -> np.ndarray:
    labels = np.asarray(y, dtype="int64")
    if labels.size != n_rows or labels.size == 0:
        raise TrainingDataError(f"{n_rows} feature rows but {labels.size} labels")
    if np.unique(labels).size < 2:
        raise TrainingDataError(f"all {labels.size} training rows are in one bucket")
    if labels.min() < 0 or labels.max() >= buckets.n_classes:
        raise TrainingDataError(f"labels must be buckets 0..{buckets.n_classes - 1}")
    return labels


class _ScoreBaseline(ClassifierMixin, BaseEstimator):
    """A risk score (higher = later) mapped monotonically to bucket probabilities."""

    def __init__(self, buckets: LateBuckets = LateBuckets()) -> None:  # noqa: B008
        self.buckets = buckets

    def risk_score(self, X: pd.DataFrame) -> np.ndarray:
        """The baseline's raw risk score per row (higher = riskier)."""
        raise NotImplementedError

    def _learn(self, X: pd.DataFrame, y: np.ndarray) -> None:
        """Learn what ``score`` needs from the training rows (nothing by default)."""

    def fit(
        self, X: pd.DataFrame, y: np.ndarray, *, X_val: pd.DataFrame, y_val: np.ndarray
    ) -> _ScoreBaseline:
        """Fit the monotone score -> probability map on the training rows; returns self."""
        labels = _check_labels(y, self.buckets, len(X))
        self.classes_ = np.arange(self.buckets.n_classes)
        self._learn(X, labels)
        raw = self._raw(X)
        self.calibrator_ = OrdinalCalibrator("isotonic").fit_scores(raw, labels)
        return self

    def _raw(self, X: pd.DataFrame) -> np.ndarray:
        score = self.risk_score(X)
        return np.repeat(score.reshape(-1, 1), self.buckets.n_classes - 1, axis=1)

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Bucket probabilities (n, n_classes), monotone in the score; rows sum to 1."""
        check_is_fitted(self, "calibrator_")
        return self.calibrator_.transform_scores(self._raw(X))

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The most likely bucket per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def priority(self, X: pd.DataFrame) -> np.ndarray:
        """Worklist order: open amount x P(> 30 days late)."""
        over_30 = self.buckets.p_over(self.predict_proba(X), 30)
        return np.nan_to_num(_column(X, "open_amount")) * over_30


class AgingBaseline(_ScoreBaseline):
    """Today's AR practice: risk = days overdue x open amount (0 when not yet due)."""

    def risk_score(self, X: pd.DataFrame) -> np.ndarray:
        """Days overdue x open amount (days x currency); missing counts as 0."""
        return np.nan_to_num(_column(X, "days_overdue")) * np.nan_to_num(_column(X, "open_amount"))

    def priority(self, X: pd.DataFrame) -> np.ndarray:
        """Rank by days overdue x open amount, ties by open amount: 0 (last) .. 1 (first).

        A within-batch rank (ties on both keep the input order), so only the order means
        something -- exactly what the capture metric uses.
        """
        later_first = -np.arange(len(X))
        open_amount = np.nan_to_num(_column(X, "open_amount"))
        order = np.lexsort((later_first, open_amount, self.risk_score(X)))
        ranks = np.empty(order.size, dtype="float64")
        ranks[order] = np.arange(order.size) / max(order.size - 1, 1)
        return ranks


class HistoricalLateRatioBaseline(_ScoreBaseline):
    """The customer's late ratio by count as of the row's date; no history -> the prior."""

    def _learn(self, X: pd.DataFrame, y: np.ndarray) -> None:
        self.prior_late_ratio_ = float(np.mean(y >= 1))

    def risk_score(self, X: pd.DataFrame) -> np.ndarray:
        """Late ratio by count (0-1), the training rows' late share where NaN (no history)."""
        check_is_fitted(self, "prior_late_ratio_")
        ratio = _column(X, "late_ratio_by_count")
        return np.where(np.isnan(ratio), self.prior_late_ratio_, ratio)


class LogisticBaseline(ClassifierMixin, BaseEstimator):
    """Multinomial logistic regression: median impute + missing flags, scaling, one-hot."""

    def __init__(
        self,
        buckets: LateBuckets = LateBuckets(),  # noqa: B008
        C: float = 1.0,
        max_iter: int = 2000,
    ) -> None:
        self.buckets = buckets
        self.C = C
        self.max_iter = max_iter

    def _prepare(self, X: pd.DataFrame) -> pd.DataFrame:
        """Categoricals as plain object strings with an explicit missing level."""
        missing = [name for name in self.feature_names_in_ if name not in X.columns]
        if missing:
            raise FeatureMismatchError(f"the rows lack the model's feature columns {missing}")
        frame = X[self.feature_names_in_].copy()
        for name in self.categorical_features_:
            frame[name] = frame[name].astype("string").fillna(_MISSING_LEVEL).astype(object)
        for name in self.numeric_features_:
            frame[name] = pd.to_numeric(frame[name]).astype("float64")
        return frame

    def _pipeline(self) -> Pipeline:
        numeric = make_pipeline(
            SimpleImputer(strategy="median", add_indicator=True, keep_empty_features=True),
            StandardScaler(),
        )
        categorical = OneHotEncoder(handle_unknown="ignore")
        columns = ColumnTransformer(
            [
                ("numeric", numeric, self.numeric_features_),
                ("categorical", categorical, self.categorical_features_),
            ]
        )
        return make_pipeline(columns, LogisticRegression(C=self.C, max_iter=self.max_iter))

    def fit(
        self, X: pd.DataFrame, y: np.ndarray, *, X_val: pd.DataFrame, y_val: np.ndarray
    ) -> LogisticBaseline:
        """Fit the pipeline on the training rows (validation rows unused); returns self."""
        labels = _check_labels(y, self.buckets, len(X))
        self.feature_names_in_ = [str(name) for name in X.columns]
        self.categorical_features_ = [name for name in X.columns if is_categorical(X[name])]
        self.numeric_features_ = [n for n in X.columns if n not in self.categorical_features_]
        self.classes_ = np.arange(self.buckets.n_classes)
        self.pipeline_ = self._pipeline().fit(self._prepare(X), labels)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        """Bucket probabilities (n, n_classes); buckets absent at fit get probability 0."""
        check_is_fitted(self, "pipeline_")
        seen = self.pipeline_.predict_proba(self._prepare(X))
        proba = np.zeros((len(X), self.buckets.n_classes))
        proba[:, self.pipeline_.classes_.astype("int64")] = seen
        return proba

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The most likely bucket per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def priority(self, X: pd.DataFrame) -> np.ndarray:
        """Worklist order: open amount x P(> 30 days late)."""
        over_30 = self.buckets.p_over(self.predict_proba(X), 30)
        return np.nan_to_num(_column(X, "open_amount")) * over_30
