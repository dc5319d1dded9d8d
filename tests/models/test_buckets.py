"""Buckets: edges exactly, grace, derived probabilities."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ledger.errors import PayriskError
from models.buckets import BucketError, LateBuckets


def test_edges_are_inclusive_upper_bounds() -> None:
    buckets = LateBuckets()
    days_late = np.array([-10, 0, 1, 30, 31, 60, 61, 90, 91, 400])
    assert buckets.bucket_of(days_late).tolist() == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]


def test_labels_and_classes() -> None:
    buckets = LateBuckets()
    assert buckets.labels == ("on_time", "late_1_30", "late_31_60", "late_61_90", "late_over_90")
    assert buckets.n_classes == 5
    assert LateBuckets(edges_days=(0, 45)).labels == ("on_time", "late_1_45", "late_over_45")


def test_grace_moves_only_the_on_time_threshold() -> None:
    buckets = LateBuckets(grace_days=5)
    assert buckets.bucket_of(pd.Series([5.0, 6.0, 30.0, 31.0])).tolist() == [0, 1, 1, 2]
    assert buckets.labels[1] == "late_1_30"


def test_missing_days_late_is_an_error_not_a_class() -> None:
    with pytest.raises(BucketError, match="1 days-late values are missing"):
        LateBuckets().bucket_of(pd.Series([3.0, None]))


@pytest.mark.parametrize(
    ("edges", "grace"), [((30, 0), 0), ((0, 30, 30), 0), ((-1, 30), 0), ((0, 30), 30), ((), 0)]
)
def test_bad_configuration_is_a_user_error(edges: tuple[int, ...], grace: int) -> None:
    with pytest.raises(PayriskError):
        LateBuckets(edges_days=edges, grace_days=grace)


def test_p_late_and_p_over_sum_the_right_buckets() -> None:
    buckets = LateBuckets()
    proba = np.array([[0.5, 0.2, 0.1, 0.15, 0.05], [0.0, 0.0, 0.0, 0.0, 1.0]])
    assert buckets.p_late(proba) == pytest.approx([0.5, 1.0])
    assert buckets.p_over(proba, 30) == pytest.approx([0.3, 1.0])
    assert buckets.p_over(proba, 90) == pytest.approx([0.05, 1.0])
    assert buckets.p_over(proba, 0) == pytest.approx(buckets.p_late(proba))
    with pytest.raises(BucketError, match="45 days is not a bucket edge"):
        buckets.p_over(proba, 45)
    with pytest.raises(BucketError, match=r"shape \(n, 5\)"):
        buckets.p_late(proba[:, :3])


def test_default_representative_days() -> None:
    assert LateBuckets().default_representative_days().tolist() == [0, 15.5, 45.5, 75.5, 105]
