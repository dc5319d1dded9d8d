"""The payment-risk model: LightGBM multiclass over the days-late buckets, calibrated.

``PaymentRiskModel`` follows scikit-learn's estimator conventions (``__init__`` only
stores parameters, learned attributes end in ``_``, ``fit`` returns ``self``), so
``sklearn.base.clone`` works on it. The class stays here, at ``models.estimator``:
``joblib`` pickles it by that path into every logged model (``models.pyfunc``).

* Training: LightGBM multiclass on the buckets of ``LateBuckets``, early stopping on
  the validation period (multi log loss, rows with an exact bucket), then an
  ``OrdinalCalibrator`` fitted on that same validation period, right-censored rows
  included (``y_val_exact``): each calibration step uses every row whose own target is
  known (see ``models.calibration``). The checks of the rows, and the days late each
  bucket stands for, are in ``models.training_data``.
* Default calibration, chosen on earlier backtest folds of the demo ledger (never its
  final test): sigmoid, P(late) scaled not shifted (``calibration_shift_late=False``);
  why, and what lost (isotonic, a 6-month validation, split early stopping, pooled
  out-of-fold windows), in ``models.calibration``.
* Inputs: ``prepare`` turns a feature frame into LightGBM's matrix, categorical columns
  as native categoricals (``models.feature_matrix``).
* Outputs: ``predict_frame`` turns the bucket probabilities into P(late), P(> edge),
  expected days late and a predicted payment date (``models.prediction_columns``); the
  customer roll-up and the risk tier live in ``models.rollup``.
* Explanations: ``contributions`` gives per-feature pushes on the log-odds of "late"
  (exact TreeSHAP, or the fast path approximation); ``models.explain`` words them.
* ``n_jobs`` is LightGBM's thread count: on a machine whose cores are busy, 1 thread
  can be many times faster than 2 (OpenMP threads wait for each other).
"""

from __future__ import annotations

from typing import Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.validation import check_is_fitted

from models.buckets import LateBuckets
from models.calibration import OrdinalCalibrator
from models.explain import late_log_odds_contributions, path_contributions
from models.feature_matrix import (
    FeatureMismatchError,
    feature_matrix,
    is_categorical,
    learn_category_levels,
)
from models.prediction_columns import prediction_columns
from models.training_data import (
    TrainingDataError,
    check_training_data,
    exact_mask,
    learn_bucket_days,
)

# Re-exported: callers import the model's errors and column test from here.
__all__ = ["FeatureMismatchError", "PaymentRiskModel", "TrainingDataError", "is_categorical"]


class PaymentRiskModel(ClassifierMixin, BaseEstimator):
    """Calibrated LightGBM over days-late buckets; ``predict_proba`` has one column per bucket."""

    def __init__(
        self,
        buckets: LateBuckets = LateBuckets(),  # noqa: B008 -- frozen dataclass, immutable
        n_estimators: int = 2000,
        learning_rate: float = 0.05,
        num_leaves: int = 31,
        max_depth: int = -1,
        min_child_samples: int = 50,
        early_stopping_rounds: int = 100,
        calibration: Literal["isotonic", "sigmoid", "none"] = "sigmoid",
        calibration_shift_late: bool = False,
        random_state: int = 42,
        n_jobs: int = 2,
    ) -> None:
        self.buckets = buckets
        self.n_estimators = n_estimators
        self.learning_rate = learning_rate
        self.num_leaves = num_leaves
        self.max_depth = max_depth
        self.min_child_samples = min_child_samples
        self.early_stopping_rounds = early_stopping_rounds
        self.calibration = calibration
        self.calibration_shift_late = calibration_shift_late
        self.random_state = random_state
        self.n_jobs = n_jobs

    # -- fitting ---------------------------------------------------------------------

    def fit(
        self,
        X: pd.DataFrame,
        y: np.ndarray,
        *,
        X_val: pd.DataFrame,
        y_val: np.ndarray,
        y_val_exact: np.ndarray | pd.Series | None = None,
        days_late: np.ndarray | pd.Series | None = None,
    ) -> PaymentRiskModel:
        """Train on (X, y), early-stop and calibrate on (X_val, y_val); returns self.

        ``y``/``y_val`` are bucket classes (``LateBuckets.bucket_of``). ``y_val_exact``
        (optional, aligned with ``X_val``): False for a right-censored row, whose
        ``y_val`` is then the lowest bucket it can still end in; early stopping uses
        the exact rows only, the calibrator every row (``None``: all exact).
        ``days_late`` (optional, aligned with ``X``, NaN where unknown) sets the days
        each bucket stands for in the expected days late.
        """
        self._check_params()
        y_train, y_valid = check_training_data(self.buckets, X, y, X_val, y_val)
        exact = exact_mask(y_val_exact, y_valid.size)
        self.feature_names_in_ = [str(name) for name in X.columns]
        self.n_features_in_ = len(self.feature_names_in_)
        self.categorical_features_ = [name for name in X.columns if is_categorical(X[name])]
        self.category_levels_ = learn_category_levels(X, self.categorical_features_)
        self.classes_ = np.arange(self.buckets.n_classes)
        matrix_val = self._matrix(X_val)
        self.booster_ = self._train_booster(
            self._matrix(X), y_train, matrix_val[exact], y_valid[exact]
        )
        self.best_iteration_ = int(
            self.booster_.best_iteration or self.booster_.current_iteration()
        )
        self.bucket_days_ = learn_bucket_days(self.buckets, y_train, days_late)
        self.calibrator_ = None
        if self.calibration != "none":
            raw_val = self.predict_proba_uncalibrated(X_val)
            calibrator = OrdinalCalibrator(self.calibration, self.calibration_shift_late)
            self.calibrator_ = calibrator.fit(raw_val, y_valid, exact)
        return self

    def _check_params(self) -> None:
        """Refuse a calibration setting that cannot work, before any data is looked at."""
        if self.calibration not in ("isotonic", "sigmoid", "none"):
            raise TrainingDataError(
                f"calibration must be 'isotonic', 'sigmoid' or 'none', got {self.calibration!r}"
            )
        if self.calibration == "isotonic" and not self.calibration_shift_late:
            raise TrainingDataError(
                "calibration_shift_late=False needs calibration 'sigmoid' (isotonic maps "
                "cannot keep the level of P(late)); set it to True or use 'sigmoid'"
            )

    def lightgbm_params(self) -> dict[str, Any]:
        """The boosting parameters every engine trains with (``lgb.train`` here, and
        ``training.engines.dask_fit``'s ``DaskLGBMClassifier``), in the scikit-learn API's
        names, which ``lgb.train`` takes as aliases (``min_child_samples`` is
        ``min_data_in_leaf``, ``random_state`` is ``seed``)."""
        return {
            "objective": "multiclass",
            "learning_rate": self.learning_rate,
            "num_leaves": self.num_leaves,
            "max_depth": self.max_depth,
            "min_child_samples": self.min_child_samples,
            "random_state": self.random_state,
            "deterministic": True,
            "force_row_wise": True,
            "verbose": -1,
        }

    def _train_booster(
        self, matrix: np.ndarray, y: np.ndarray, matrix_val: np.ndarray, y_val: np.ndarray
    ) -> lgb.Booster:
        params = {
            **self.lightgbm_params(),
            "num_class": self.buckets.n_classes,
            "metric": "multi_logloss",
            "num_threads": self.n_jobs,
        }
        names, categorical = self.feature_names_in_, self.categorical_features_
        train_set = lgb.Dataset(
            matrix, label=y, feature_name=names, categorical_feature=categorical
        )
        valid_set = lgb.Dataset(
            matrix_val,
            label=y_val,
            reference=train_set,
            feature_name=names,
            categorical_feature=categorical,
        )
        return lgb.train(
            params,
            train_set,
            num_boost_round=self.n_estimators,
            valid_sets=[valid_set],
            callbacks=[lgb.early_stopping(self.early_stopping_rounds, verbose=False)]
            if self.early_stopping_rounds > 0
            else [],
        )

    # -- predicting ------------------------------------------------------------------

    def prepare(self, X: pd.DataFrame) -> np.ndarray:
        """The float64 matrix LightGBM sees: columns in fit order, categories as codes.

        Build it once and pass it as ``matrix=`` to ``predict_proba``, ``predict_frame``
        and ``contributions`` to skip the conversion when one set of rows needs several.
        A level never seen at fit, or a missing value, is NaN ("missing").
        """
        return feature_matrix(X, self.feature_names_in_, self.category_levels_)

    # the old name, kept for callers that reach for it
    _matrix = prepare

    def _checked_matrix(self, X: pd.DataFrame, matrix: np.ndarray | None) -> np.ndarray:
        if matrix is None:
            return self.prepare(X)
        if matrix.shape != (len(X), self.n_features_in_):
            raise FeatureMismatchError(
                f"the prepared matrix has shape {matrix.shape}, expected "
                f"({len(X)}, {self.n_features_in_}) for these rows"
            )
        return matrix

    def predict_proba_uncalibrated(
        self, X: pd.DataFrame, *, matrix: np.ndarray | None = None
    ) -> np.ndarray:
        """LightGBM's softmax bucket probabilities (n, n_classes), before calibration."""
        check_is_fitted(self, "booster_")
        prepared = self._checked_matrix(X, matrix)
        raw = self.booster_.predict(prepared, num_iteration=self.best_iteration_)
        return np.asarray(raw, dtype="float64").reshape(len(X), self.buckets.n_classes)

    def predict_proba(self, X: pd.DataFrame, *, matrix: np.ndarray | None = None) -> np.ndarray:
        """Calibrated bucket probabilities (n, n_classes); every row sums to 1.

        ``matrix``: ``prepare(X)`` made beforehand (optional).
        """
        raw = self.predict_proba_uncalibrated(X, matrix=matrix)
        return raw if self.calibrator_ is None else self.calibrator_.transform(raw)

    def predict(self, X: pd.DataFrame) -> np.ndarray:
        """The most likely bucket per row."""
        return self.classes_[np.argmax(self.predict_proba(X), axis=1)]

    def priority(self, X: pd.DataFrame) -> np.ndarray:
        """Worklist ranking score: open amount x P(> 30 days late) (amount in invoice currency)."""
        over_30 = self.buckets.p_over(self.predict_proba(X), 30)
        return X["open_amount"].astype("float64").fillna(0).to_numpy() * over_30

    def predict_frame(
        self,
        X: pd.DataFrame,
        as_of: pd.Series,
        due_date: pd.Series,
        *,
        matrix: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Per row: ``p_<label>`` per bucket, ``p_late``, ``p_over_<edge>`` (edges > 0),
        ``expected_days_late`` and ``predicted_payment_date``.

        ``as_of``/``due_date`` align with ``X`` by position; ``matrix`` is ``prepare(X)``
        made beforehand (optional). Expected days late is at least the days already
        overdue at ``as_of``, so the predicted payment date (due date + expected days
        late, rounded to whole days) is never before ``as_of`` (``models.prediction_columns``).
        """
        columns = self.predict_columns(X, as_of, due_date, matrix=matrix)
        return pd.DataFrame(columns, index=X.index)

    def predict_columns(
        self,
        X: pd.DataFrame,
        as_of: pd.Series,
        due_date: pd.Series,
        *,
        matrix: np.ndarray | None = None,
    ) -> dict[str, np.ndarray]:
        """``predict_frame``'s columns as arrays, for a caller that builds its own frame."""
        proba = self.predict_proba(X, matrix=matrix)
        return prediction_columns(self.buckets, proba, self.bucket_days_, as_of, due_date)

    def contributions(
        self,
        X: pd.DataFrame,
        method: Literal["shap", "path"] = "shap",
        *,
        matrix: np.ndarray | None = None,
    ) -> pd.DataFrame:
        """Contributions to the log-odds of "late", one column per feature.

        ``shap``: LightGBM's TreeSHAP (``pred_contrib``, ~10 ms of CPU per row for a
        few hundred trees); ``path``: the fast path approximation
        (``models.explain.path_contributions``, ~0.05 ms per row). See ``models.explain``
        for the quantity explained. ``matrix``: ``prepare(X)`` made beforehand (optional).
        """
        check_is_fitted(self, "booster_")
        prepared = self._checked_matrix(X, matrix)
        raw = (
            path_contributions(self.booster_, prepared, self.best_iteration_)
            if method == "path"
            else self.booster_.predict(
                prepared, num_iteration=self.best_iteration_, pred_contrib=True
            )
        )
        values = late_log_odds_contributions(
            np.asarray(raw, dtype="float64"), self.buckets.n_classes, self.n_features_in_
        )
        return pd.DataFrame(values, columns=self.feature_names_in_, index=X.index)
