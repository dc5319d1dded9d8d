"""Checks of the rows given to ``PaymentRiskModel.fit``, and what fit learns from labels alone.

Each check raises ``TrainingDataError`` saying which rows are wrong and how (empty, labels
out of range, one class only, columns that differ), so ``payrisk train`` can say it in
one line instead of failing inside LightGBM.

Expected days late: each bucket stands for a number of days late learned at fit -- the
mean of ``max(days_late, 0)`` over the training rows in that bucket when ``days_late``
is given (rows whose days late is not known yet, e.g. an open invoice already past an
edge, are skipped), else ``LateBuckets.default_representative_days``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ledger.errors import PayriskError
from models.buckets import LateBuckets


class TrainingDataError(PayriskError):
    """The rows given to ``fit`` cannot train a model (one class, no validation rows...)."""


def check_training_data(
    buckets: LateBuckets, X: pd.DataFrame, y: np.ndarray, X_val: pd.DataFrame, y_val: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """The training and validation labels as int64, after checking rows and labels agree."""
    y_train = np.asarray(y, dtype="int64")
    y_valid = np.asarray(y_val, dtype="int64")
    for name, frame, labels in (("training", X, y_train), ("validation", X_val, y_valid)):
        if len(frame) == 0:
            raise TrainingDataError(f"the {name} rows are empty: nothing to fit on")
        if len(frame) != len(labels):
            raise TrainingDataError(f"{name}: {len(frame)} feature rows but {len(labels)} labels")
        bad = labels[(labels < 0) | (labels >= buckets.n_classes)]
        if bad.size:
            raise TrainingDataError(
                f"{name}: label {bad[0]} is not a bucket 0..{buckets.n_classes - 1}"
            )
    if np.unique(y_train).size < 2:
        raise TrainingDataError(
            f"all {y_train.size} training rows are in bucket "
            f"{buckets.labels[y_train[0]]!r}; a model needs at least two classes"
        )
    if list(X_val.columns) != list(X.columns):
        raise TrainingDataError("the validation rows do not have the training columns")
    return y_train, y_valid


def exact_mask(y_val_exact: np.ndarray | pd.Series | None, n_rows: int) -> np.ndarray:
    """Which validation rows have an exact bucket (``None``: all); at least one must."""
    if y_val_exact is None:
        return np.ones(n_rows, dtype=bool)
    exact = np.asarray(y_val_exact, dtype=bool)
    if exact.shape != (n_rows,):
        raise TrainingDataError(f"y_val_exact has {exact.size} values for {n_rows} rows")
    if not exact.any():
        raise TrainingDataError(
            f"none of the {n_rows} validation rows has an exact bucket to early-stop on"
        )
    return exact


def learn_bucket_days(
    buckets: LateBuckets, y: np.ndarray, days_late: np.ndarray | pd.Series | None
) -> np.ndarray:
    """The days late each bucket stands for: the mean known lateness of its training rows."""
    bucket_days = buckets.default_representative_days()
    if days_late is None:
        return bucket_days
    lateness = np.clip(np.asarray(days_late, dtype="float64"), 0, None)
    if lateness.shape != y.shape:
        raise TrainingDataError(f"days_late has {lateness.size} values for {y.size} rows")
    for bucket in range(buckets.n_classes):
        known = lateness[(y == bucket) & ~np.isnan(lateness)]
        if known.size:
            bucket_days[bucket] = known.mean()
    return bucket_days
