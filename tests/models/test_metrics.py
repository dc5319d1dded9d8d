"""Metrics against values computed by hand on 4-6 rows."""

from __future__ import annotations

import math

import numpy as np
import pytest

from models.buckets import LateBuckets
from models.metrics import (
    brier,
    calibration_curve,
    capture_curve,
    expected_calibration_error,
    late_amount_capture,
    multiclass_brier,
    multiclass_log_loss,
    ordinal_brier,
    pr_auc,
    roc_auc,
    score_report,
)


def test_roc_and_pr_auc() -> None:
    target = np.array([0, 0, 1, 1])
    score = np.array([0.1, 0.4, 0.35, 0.8])
    # 3 of the 4 (positive, negative) pairs are ordered right.
    assert roc_auc(target, score) == pytest.approx(0.75)
    # precision 1 at recall 0.5, then 2/3 at recall 1.
    assert pr_auc(target, score) == pytest.approx(0.5 * 1 + 0.5 * 2 / 3)


def test_unknown_targets_are_skipped() -> None:
    target = np.array([0, np.nan, 0, 1, 1])
    score = np.array([0.1, 0.99, 0.4, 0.35, 0.8])
    assert roc_auc(target, score) == pytest.approx(0.75)


def test_single_class_is_nan_not_an_exception() -> None:
    assert math.isnan(roc_auc(np.array([1, 1, 1]), np.array([0.2, 0.5, 0.9])))
    assert math.isnan(pr_auc(np.array([0, 0]), np.array([0.2, 0.5])))


def test_brier() -> None:
    assert brier(np.array([0, 1, 1, 0]), np.array([0.1, 0.9, 0.6, 0.3])) == pytest.approx(
        (0.01 + 0.01 + 0.16 + 0.09) / 4
    )


def test_multiclass_log_loss() -> None:
    proba = np.array([[0.5, 0.5, 0.0], [0.5, 0.25, 0.25], [0.0, 0.0, 1.0]])
    assert multiclass_log_loss(np.array([0, 1, 2]), proba) == pytest.approx(
        (math.log(2) + math.log(4)) / 3
    )


# Three buckets, so two thresholds: S_1 = P(bucket >= 1), S_2 = P(bucket >= 2).
THREE_BUCKETS = np.array([[0.5, 0.3, 0.2], [0.2, 0.3, 0.5], [0.1, 0.1, 0.8], [0.6, 0.2, 0.2]])


def test_multiclass_brier_sums_over_buckets_and_skips_unknown_rows() -> None:
    y_bucket = np.array([0, np.nan, 2, 1])
    # row 0: .5^2 + .3^2 + .2^2; row 2: .1^2 + .1^2 + .2^2; row 3: .6^2 + .8^2 + .2^2
    expected = (0.38 + 0.06 + 1.04) / 3
    assert multiclass_brier(y_bucket, THREE_BUCKETS) == pytest.approx(expected)
    assert math.isnan(multiclass_brier(np.full(4, np.nan), THREE_BUCKETS))


def test_ordinal_brier_of_exact_buckets_is_the_ranked_probability_score() -> None:
    y_bucket = np.array([0, 1, 2, 1])
    # (S_1, S_2) = (.5, .2), (.8, .5), (.9, .8), (.4, .2); outcomes (0,0), (1,0), (1,1), (1,0)
    per_row = [
        (0.5**2 + 0.2**2) / 2,
        (0.2**2 + 0.5**2) / 2,
        (0.1**2 + 0.2**2) / 2,
        (0.6**2 + 0.2**2) / 2,
    ]
    assert ordinal_brier(y_bucket, THREE_BUCKETS) == pytest.approx(np.mean(per_row))


def test_ordinal_brier_scores_censored_rows_on_their_known_thresholds_only() -> None:
    # row 0 exact 0; row 1 censored, at least bucket 1: only S_1 is known (a single
    # threshold); row 2 censored at bucket 0 (not yet due): nothing known, left out;
    # row 3 bucket unknown altogether (NaN): left out.
    y_bucket = np.array([0, 1, 0, np.nan])
    y_exact = np.array([True, False, False, True])
    expected = ((0.5**2 + 0.2**2) / 2 + 0.2**2) / 2
    assert ordinal_brier(y_bucket, THREE_BUCKETS, y_exact) == pytest.approx(expected)
    # censored in the last bucket: every threshold is known, as if exact
    assert ordinal_brier(np.array([2]), THREE_BUCKETS[2:3], np.array([False])) == pytest.approx(
        (0.1**2 + 0.2**2) / 2
    )
    nothing_known = ordinal_brier(np.array([0, np.nan]), THREE_BUCKETS[:2], np.array([False, True]))
    assert math.isnan(nothing_known)


def test_ordinal_brier_charges_a_near_miss_less_than_a_far_one() -> None:
    certain = np.eye(3)
    truth = np.array([0, 0, 0])
    near, far = certain[[1]], certain[[2]]
    assert ordinal_brier(truth[:1], near) < ordinal_brier(truth[:1], far)
    # the classic multiclass Brier cannot tell them apart
    assert multiclass_brier(truth[:1], near) == multiclass_brier(truth[:1], far) == 2.0


def test_calibration_curve_and_ece() -> None:
    target = np.array([0, 1, 1, 1])
    proba = np.array([0.1, 0.2, 0.7, 0.9])
    table = calibration_curve(target, proba, n_bins=2)
    assert table["mean_predicted"].tolist() == pytest.approx([0.15, 0.8])
    assert table["observed"].tolist() == pytest.approx([0.5, 1.0])
    assert table["count"].tolist() == [2, 2]
    assert expected_calibration_error(target, proba, n_bins=2) == pytest.approx(
        (2 * 0.35 + 2 * 0.2) / 4
    )


PRIORITY = np.array([5.0, 1.0, 3.0, 3.0, 0.0])
AMOUNT_OVER_30 = np.array([0.0, 100.0, 50.0, 30.0, 20.0])  # total 200


@pytest.mark.parametrize(("k", "expected"), [(0.1, 0.0), (0.4, 0.25), (0.6, 0.4), (1.0, 1.0)])
def test_late_amount_capture(k: float, expected: float) -> None:
    # order: row 0 (5), row 2 (3, first of the tie), row 3 (3), row 1 (1), row 4 (0)
    assert late_amount_capture(PRIORITY, AMOUNT_OVER_30, k) == pytest.approx(expected)


def test_capture_curve() -> None:
    curve = capture_curve(PRIORITY, AMOUNT_OVER_30, n_points=6)
    assert curve["fraction"].tolist() == pytest.approx([0, 0.2, 0.4, 0.6, 0.8, 1.0])
    assert curve["capture"].tolist() == pytest.approx([0, 0, 0.25, 0.4, 0.9, 1.0])


def test_capture_without_late_amount_is_nan() -> None:
    assert math.isnan(late_amount_capture(PRIORITY, np.zeros(5), 0.2))


def test_score_report_names_and_values() -> None:
    buckets = LateBuckets()
    y_bucket = np.array([0, 1, 2, 4, 0])
    proba = np.array(
        [
            [0.8, 0.1, 0.05, 0.03, 0.02],
            [0.3, 0.5, 0.1, 0.05, 0.05],
            [0.2, 0.2, 0.4, 0.1, 0.1],
            [0.1, 0.1, 0.2, 0.2, 0.4],
            [0.6, 0.2, 0.1, 0.05, 0.05],
        ]
    )
    open_amount = np.array([100.0, 100.0, 40.0, 60.0, 500.0])
    priority = open_amount * buckets.p_over(proba, 30)  # 10, 20, 24, 48, 100
    report = score_report(y_bucket, proba, buckets, priority, open_amount)
    assert set(report) >= {
        "roc_auc_late", "pr_auc_late", "roc_auc_over_30", "pr_auc_over_30", "brier_late",
        "brier_over_30", "brier_ordinal", "brier_multiclass", "log_loss", "ece_late",
        "capture_at_10", "capture_at_20",
    }  # fmt: skip
    assert report["share_over_30"] == pytest.approx(0.4)
    assert report["roc_auc_late"] == pytest.approx(1.0)
    assert report["roc_auc_over_30"] == pytest.approx(1.0)
    late_brier = ((0.2 - 0) ** 2 + (0.7 - 1) ** 2 + (0.8 - 1) ** 2 + (0.9 - 1) ** 2 + 0.4**2) / 5
    assert report["brier_late"] == pytest.approx(late_brier)
    expected_log_loss = -np.mean(np.log([0.8, 0.5, 0.4, 0.4, 0.6]))
    assert report["log_loss"] == pytest.approx(expected_log_loss)
    # top row by priority is row 4 (on time): nothing > 30 days late captured at 10% or 20%.
    assert report["capture_at_10"] == 0.0
    assert report["capture_at_20"] == 0.0
    assert report["brier_multiclass"] == pytest.approx(multiclass_brier(y_bucket, proba))
    assert report["brier_ordinal"] == pytest.approx(ordinal_brier(y_bucket, proba))


def test_score_report_ordinal_brier_uses_the_floor_of_censored_rows() -> None:
    buckets = LateBuckets()  # 5 buckets, 4 thresholds
    proba = np.tile([0.4, 0.2, 0.2, 0.1, 0.1], (2, 1))  # S = .6, .4, .2, .1
    y_bucket = np.array([0.0, np.nan])  # row 1 open, known to be at least 31-60 days late
    floor = np.array([0.0, 2.0])
    report = score_report(y_bucket, proba, buckets, np.ones(2), np.ones(2), y_bucket_floor=floor)
    exact_row = (0.6**2 + 0.4**2 + 0.2**2 + 0.1**2) / 4
    censored_row = (0.4**2 + 0.6**2) / 2
    assert report["brier_ordinal"] == pytest.approx((exact_row + censored_row) / 2)
    assert report["brier_multiclass"] == pytest.approx(0.6**2 + 0.2**2 * 2 + 0.1**2 * 2)
    without_floor = score_report(y_bucket, proba, buckets, np.ones(2), np.ones(2))
    assert without_floor["brier_ordinal"] == pytest.approx(exact_row)


def test_score_report_survives_a_single_class() -> None:
    buckets = LateBuckets()
    proba = np.tile([0.6, 0.2, 0.1, 0.05, 0.05], (3, 1))
    report = score_report(np.zeros(3), proba, buckets, np.ones(3), np.ones(3))
    assert math.isnan(report["roc_auc_late"])
    assert math.isnan(report["capture_at_10"])
    assert report["brier_late"] == pytest.approx(0.16)
