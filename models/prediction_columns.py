"""From bucket probabilities to the columns a collector reads: P(late), P(> edge), days, date.

``PaymentRiskModel.predict_frame`` calls ``prediction_columns``; the pyfunc's output
(``models.pyfunc_frames.bucket_frame``) shares ``probability_columns``, so both name and
compute the probability columns the same way. Expected days late of a row is the
probability-weighted mean of the days each bucket stands for (learned at fit,
``models.training_data.learn_bucket_days``), never less than the days already overdue at
``as_of``; so the predicted payment date (due date + expected days late, rounded to whole
days) is never before ``as_of``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.buckets import LateBuckets


def probability_columns(buckets: LateBuckets, proba: np.ndarray) -> dict[str, np.ndarray]:
    """``p_<label>`` per bucket, ``p_late`` and ``p_over_<edge>`` (edges > 0), in that order."""
    columns: dict[str, np.ndarray] = {
        f"p_{label}": proba[:, position] for position, label in enumerate(buckets.labels)
    }
    columns["p_late"] = buckets.p_late(proba)
    for edge in buckets.edges_days:
        if edge > 0:
            columns[f"p_over_{edge}"] = buckets.p_over(proba, edge)
    return columns


def _expected_days(proba: np.ndarray, bucket_days: np.ndarray) -> np.ndarray:
    """Per row, sum over buckets of P(bucket) x its typical days late, bucket by bucket.

    Not ``proba @ bucket_days``: BLAS picks its kernel by the number of rows, and the
    last digit of a row's value then depended on how many rows were scored with it (a
    live answer alone vs in a micro-batch vs the refresh, which must agree exactly).
    """
    expected = np.zeros(len(proba))
    for bucket, days in enumerate(np.asarray(bucket_days, dtype="float64")):
        expected += proba[:, bucket] * days
    return expected


def prediction_columns(
    buckets: LateBuckets,
    proba: np.ndarray,
    bucket_days: np.ndarray,
    as_of: pd.Series,
    due_date: pd.Series,
) -> dict[str, np.ndarray]:
    """``p_<label>`` per bucket, ``p_late``, ``p_over_<edge>`` (edges > 0),
    ``expected_days_late`` and ``predicted_payment_date``, aligned with ``proba`` by position.
    """
    columns = probability_columns(buckets, proba)
    due = np.asarray(due_date, dtype="datetime64[ns]").astype("datetime64[D]")
    as_of_days = np.asarray(as_of, dtype="datetime64[ns]").astype("datetime64[D]")
    overdue_days = (as_of_days - due).astype("float64")
    expected = np.fmax(_expected_days(proba, bucket_days), overdue_days)
    columns["expected_days_late"] = expected
    # NaN (no due date) -> NaT, like the timedelta arithmetic of pandas
    late_days = np.round(expected)
    shifted = due + np.where(np.isnan(late_days), 0, late_days).astype("timedelta64[D]")
    columns["predicted_payment_date"] = np.where(
        np.isnat(due) | np.isnan(late_days), np.datetime64("NaT"), shifted
    ).astype("datetime64[ns]")
    return columns
