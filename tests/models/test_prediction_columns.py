"""``models.prediction_columns``: a row's numbers depend on that row alone, not on how many
rows were predicted with it (a live answer, a micro-batch and the refresh agree exactly)."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.buckets import LateBuckets
from models.prediction_columns import prediction_columns


def test_each_row_is_the_same_alone_as_among_many() -> None:
    buckets = LateBuckets()
    rng = np.random.default_rng(3)
    proba = rng.dirichlet(np.full(buckets.n_classes, 0.5), size=500)
    bucket_days = np.array([-1.7, 14.3, 44.9, 74.2, 131.6])
    as_of = pd.Series(pd.Timestamp("2026-11-30"), index=range(500))
    due = pd.Series(pd.Timestamp("2026-11-30") + pd.to_timedelta(rng.integers(-90, 60, 500), "D"))

    together = prediction_columns(buckets, proba, bucket_days, as_of, due)
    for row in range(len(proba)):
        alone = prediction_columns(
            buckets, proba[row : row + 1], bucket_days, as_of[row : row + 1], due[row : row + 1]
        )
        for name, values in alone.items():
            assert values[0] == together[name][row] or (
                pd.isna(values[0]) and pd.isna(together[name][row])
            ), (name, row)


def test_expected_days_are_the_probability_weighted_days_at_least_the_days_overdue() -> None:
    buckets = LateBuckets()
    proba = np.array([[0.5, 0.5, 0.0, 0.0, 0.0], [1.0, 0.0, 0.0, 0.0, 0.0]])
    bucket_days = np.array([0.0, 20.0, 45.0, 75.0, 120.0])
    as_of = pd.Series(pd.to_datetime(["2026-11-30", "2026-11-30"]))
    due = pd.Series(pd.to_datetime(["2026-12-10", "2026-11-10"]))  # not due yet, 20 days over

    columns = prediction_columns(buckets, proba, bucket_days, as_of, due)
    assert columns["expected_days_late"].tolist() == [10.0, 20.0]
    assert pd.DatetimeIndex(columns["predicted_payment_date"]).equals(
        pd.to_datetime(["2026-12-20", "2026-11-30"])
    )
