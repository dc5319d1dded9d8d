"""Ordinal calibration: the bucket algebra, monotone S_k, no empty bucket, Brier improves."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import (
    CalibrationError,
    OrdinalCalibrator,
    continuation_from_proba,
    cumulative_from_proba,
    proba_from_continuation,
    proba_from_cumulative,
)


def test_cumulative_and_back() -> None:
    proba = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    cumulative = cumulative_from_proba(proba)
    assert cumulative.tolist() == [pytest.approx([0.5, 0.2]), pytest.approx([0.9, 0.8])]
    assert proba_from_cumulative(cumulative) == pytest.approx(proba)


def test_continuation_and_back() -> None:
    proba = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    steps = continuation_from_proba(proba)
    assert steps.tolist() == [pytest.approx([0.5, 0.4]), pytest.approx([0.9, 0.8 / 0.9])]
    assert proba_from_continuation(steps) == pytest.approx(proba)


def test_clipping_leaves_no_bucket_empty() -> None:
    proba = proba_from_continuation(np.array([[1.0, 1.0, 0.0], [0.0, 0.5, 0.5]]))
    assert proba[0].tolist() == pytest.approx([1e-4, (1 - 1e-4) * 1e-3, 0.999 * 0.9999 * 0.999,
                                               0.999 * 0.9999 * 1e-3])  # fmt: skip
    assert proba.min() > 0
    assert proba.sum(axis=1) == pytest.approx([1.0, 1.0])


def _miscalibrated(n_rows: int, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """True 3-bucket probabilities, the outcomes, and an overconfident distortion."""
    rng = np.random.default_rng(seed)
    s1 = rng.uniform(0.05, 0.95, n_rows)
    s2 = s1 * rng.uniform(0.1, 0.6, n_rows)
    draws = rng.random(n_rows)
    y = (draws < s1).astype(int) + (draws < s2).astype(int)
    distorted = np.column_stack([s1**3, s2**3])
    return proba_from_cumulative(distorted), y, np.column_stack([s1, s2])


@pytest.mark.parametrize("method", ["isotonic", "sigmoid"])
def test_calibration_improves_brier_and_keeps_monotone(method: str) -> None:
    raw_fit, y_fit, _ = _miscalibrated(4000, 0)
    raw_test, y_test, _ = _miscalibrated(4000, 1)
    calibrated = OrdinalCalibrator(method).fit(raw_fit, y_fit).transform(raw_test)  # type: ignore[arg-type]
    for k in (1, 2):
        target = (y_test >= k).astype(float)
        before = np.mean((cumulative_from_proba(raw_test)[:, k - 1] - target) ** 2)
        after = np.mean((cumulative_from_proba(calibrated)[:, k - 1] - target) ** 2)
        assert after < before - 0.01
    cumulative = cumulative_from_proba(calibrated)
    assert np.all(cumulative[:, 0] >= cumulative[:, 1] - 1e-9)
    assert calibrated.sum(axis=1) == pytest.approx(np.ones(4000))


def test_single_class_step_gets_a_constant_and_unreached_step_passes_through() -> None:
    raw = np.array([[0.2, 0.1, 0.6], [0.6, 0.3, 0.6], [0.9, 0.4, 0.6]])
    # every late row stopped at bucket 1: c_1 = 0 (clipped); no row reached bucket 2
    calibrator = OrdinalCalibrator().fit_scores(raw, np.array([0, 1, 1]))
    proba = calibrator.transform_scores(raw)
    assert proba[:, 2:].sum(axis=1) == pytest.approx(proba[:, 1:].sum(axis=1) * 1e-3)
    assert proba[:, 3] / proba[:, 2:].sum(axis=1) == pytest.approx([0.6] * 3)


def test_unfitted_or_empty_is_a_clear_error() -> None:
    with pytest.raises(CalibrationError, match="not fitted"):
        OrdinalCalibrator().transform(np.array([[0.5, 0.5]]))
    with pytest.raises(CalibrationError, match="needs rows"):
        OrdinalCalibrator().fit(np.empty((0, 3)), np.empty(0))


def test_censored_rows_count_for_every_step_whose_target_they_know() -> None:
    raw = np.full((6, 3), 0.5)  # one raw value: each isotonic step learns its row mean
    # exact buckets 0, 0, 1, 2; then one open late invoice (>= 1) and one not yet due (>= 0)
    floor, exact = np.array([0, 0, 1, 2, 1, 0]), np.array([True] * 4 + [False] * 2)
    censored_aware = OrdinalCalibrator("isotonic").fit_scores(raw, floor, exact)
    # S_1 from rows 0-4 (3 of 5 late); c_1 from rows 2-3 (1 of 2); c_2 from row 3 only
    assert censored_aware.transform_scores(raw[:1])[0] == pytest.approx(
        [0.4, 0.3, 0.3 * 0.999, 0.3 * 1e-3]
    )
    exact_only = OrdinalCalibrator("isotonic").fit_scores(raw[:4], floor[:4])
    assert exact_only.transform_scores(raw[:1])[0, 0] == pytest.approx(0.5)


def test_without_shift_late_the_late_level_stays_and_the_steps_shift() -> None:
    raw = np.column_stack([np.full(10, 0.5), np.full(10, 0.5)])
    y_bucket = np.array([0, 0, 1, 1, 1, 1, 1, 1, 2, 2])  # 8 of 10 late, 2 of 8 beyond
    scaled = OrdinalCalibrator("sigmoid", shift_late=False).fit_scores(raw, y_bucket)
    shifted = OrdinalCalibrator("sigmoid").fit_scores(raw, y_bucket)
    # a logit of 0 scaled by any slope stays 0: P(late) keeps the model's 0.5
    assert cumulative_from_proba(scaled.transform_scores(raw[:1]))[0] == pytest.approx(
        [0.5, 0.5 * 0.25], abs=1e-3
    )
    assert cumulative_from_proba(shifted.transform_scores(raw[:1]))[0, 0] == pytest.approx(
        0.8, abs=1e-3
    )


def test_bad_censoring_mask_or_isotonic_without_shift_is_a_clear_error() -> None:
    raw = np.full((3, 2), 0.5)
    with pytest.raises(CalibrationError, match="y_exact has shape"):
        OrdinalCalibrator().fit_scores(raw, np.array([0, 1, 2]), np.array([True, False]))
    with pytest.raises(CalibrationError, match="needs method 'sigmoid'"):
        OrdinalCalibrator("isotonic", shift_late=False).fit_scores(raw, np.array([0, 1, 2]))
