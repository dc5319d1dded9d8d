"""PaymentRiskModel: sklearn conventions, smoke, behaviour (direction), bad input."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from sklearn.base import clone

from models.buckets import LateBuckets
from models.calibration import cumulative_from_proba
from models.estimator import (
    FeatureMismatchError,
    PaymentRiskModel,
    TrainingDataError,
)
from models.metrics import brier

SMALL = {"n_estimators": 60, "learning_rate": 0.1, "min_child_samples": 5, "n_jobs": 1}


def test_clone_keeps_params_and_drops_the_fit(fitted_model: PaymentRiskModel) -> None:
    copy = clone(fitted_model)
    assert copy.get_params() == fitted_model.get_params()
    assert not hasattr(copy, "booster_")


def test_fit_predict_smoke(fitted_model: PaymentRiskModel, training_data: dict) -> None:
    X_test, _, _ = training_data["test"]
    proba = fitted_model.predict_proba(X_test)
    assert proba.shape == (len(X_test), 5)
    assert proba.sum(axis=1) == pytest.approx(np.ones(len(X_test)))
    assert np.all(np.diff(cumulative_from_proba(proba), axis=1) <= 1e-12)
    assert fitted_model.feature_names_in_ == list(X_test.columns)
    assert fitted_model.categorical_features_ == ["currency", "terms"]
    assert 1 <= fitted_model.best_iteration_ <= 200
    assert set(fitted_model.predict(X_test)) <= set(range(5))


def test_bucket_days_learned_from_days_late(fitted_model: PaymentRiskModel) -> None:
    bucket_days = fitted_model.bucket_days_
    assert bucket_days[0] == 0.0
    assert 1 <= bucket_days[1] <= 30 and 31 <= bucket_days[2] <= 60 and 61 <= bucket_days[3] <= 90


def test_predict_frame(fitted_model: PaymentRiskModel, training_data: dict) -> None:
    X = training_data["test"][0].head(3).set_axis(["a", "b", "c"])
    as_of = pd.Series(pd.to_datetime(["2026-03-10"] * 3))
    due = pd.Series(pd.to_datetime(["2026-04-01", "2026-03-01", "2025-11-01"]))
    frame = fitted_model.predict_frame(X, as_of=as_of, due_date=due)
    assert list(frame.index) == ["a", "b", "c"]
    assert {"p_on_time", "p_late_over_90", "p_late", "p_over_30", "expected_days_late"} <= set(
        frame.columns
    )
    assert frame["p_late"].to_numpy() == pytest.approx(1 - frame["p_on_time"].to_numpy())
    # row c is already 129 days overdue: it cannot be paid before as_of
    assert frame["expected_days_late"].iloc[2] >= 129
    assert (frame["predicted_payment_date"] >= as_of.to_numpy()).all()


def test_unseen_category_is_treated_as_missing(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    X = training_data["test"][0].head(5)
    unseen = X.assign(currency=pd.array(["JPY"] * 5, dtype="string"))
    missing = X.assign(currency=pd.array([None] * 5, dtype="string"))
    assert fitted_model.predict_proba(unseen) == pytest.approx(fitted_model.predict_proba(missing))


def test_more_late_history_never_lowers_p_late(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    X = training_data["test"][0].head(300).assign(paid_invoices_count=10.0)
    p_late_by_ratio = [
        fitted_model.buckets.p_late(
            fitted_model.predict_proba(
                X.assign(late_ratio_by_count=ratio, late_invoices_count=10.0 * ratio)
            )
        )
        for ratio in (0.0, 0.3, 0.6, 0.9)
    ]
    # LightGBM is not constrained to be monotone: here 3 of 300 rows lose < 0.004 from a
    # ratio of 0.6 to 0.9 (an isotonic calibrator's ties used to hide that; sigmoid keeps it)
    for lower, higher in itertools.pairwise(p_late_by_ratio):
        assert np.all(higher >= lower - 0.005)
    assert np.mean(p_late_by_ratio[-1] - p_late_by_ratio[0]) > 0.2


def test_calibration_on_the_validation_period_fixes_drift(training_data: dict) -> None:
    """Customers paid 20 days earlier in the training period: raw P(late) is too low later."""
    X, _, days_late = training_data["train"]
    X_val, y_val, _ = training_data["val"]
    X_test, y_test, _ = training_data["test"]
    buckets = LateBuckets()
    # a lasting drift is what the level shift of P(late) is for (off by default)
    model = PaymentRiskModel(**SMALL, calibration_shift_late=True).fit(
        X, buckets.bucket_of(days_late - 20), X_val=X_val, y_val=y_val
    )
    late = (y_test >= 1).astype(float)
    calibrated = brier(late, buckets.p_late(model.predict_proba(X_test)))
    raw = brier(late, buckets.p_late(model.predict_proba_uncalibrated(X_test)))
    assert calibrated < raw - 0.01


def test_censored_validation_rows_reach_the_calibrator_not_early_stopping(
    training_data: dict,
) -> None:
    X, y, _ = training_data["train"]
    X_val, y_val, _ = training_data["val"]
    late_rows = np.flatnonzero(y_val >= 1)
    # censor the late rows: each is only known to be late (floor bucket 1)
    floor, exact = y_val.copy(), np.ones(y_val.size, dtype=bool)
    floor[late_rows], exact[late_rows] = 1, False
    model = PaymentRiskModel(**SMALL, calibration="isotonic", calibration_shift_late=True)
    model.fit(X.head(600), y[:600], X_val=X_val, y_val=floor, y_val_exact=exact)
    late_step, first_continuation = model.calibrator_.calibrators_[:2]
    assert late_step.isotonic is not None  # P(late) learned from every row, both classes
    # c_1 = P(> 30 | late): no row tells, so it passes the model's value through
    assert first_continuation.isotonic is None and first_continuation.constant is None
    with pytest.raises(TrainingDataError, match="none of the"):
        PaymentRiskModel(**SMALL).fit(
            X.head(600), y[:600], X_val=X_val, y_val=floor, y_val_exact=np.zeros(y_val.size)
        )
    with pytest.raises(TrainingDataError, match="y_val_exact has 3 values"):
        PaymentRiskModel(**SMALL).fit(
            X.head(600), y[:600], X_val=X_val, y_val=floor, y_val_exact=np.ones(3)
        )


def test_same_data_and_seed_give_identical_probabilities(training_data: dict) -> None:
    X, y, _ = training_data["train"]
    X_val, y_val, _ = training_data["val"]
    first, second = (
        PaymentRiskModel(**SMALL).fit(X.head(600), y[:600], X_val=X_val, y_val=y_val)
        for _ in range(2)
    )
    assert np.array_equal(first.predict_proba(X_val), second.predict_proba(X_val))


def test_training_errors_are_clear(training_data: dict) -> None:
    X, y, _ = training_data["train"]
    X_small = X.head(20)
    with pytest.raises(TrainingDataError, match="at least two classes"):
        PaymentRiskModel(**SMALL).fit(X_small, np.zeros(20), X_val=X_small, y_val=np.zeros(20))
    with pytest.raises(TrainingDataError, match="validation rows are empty"):
        PaymentRiskModel(**SMALL).fit(X_small, y[:20], X_val=X_small.head(0), y_val=y[:0])
    with pytest.raises(TrainingDataError, match="label 7"):
        PaymentRiskModel(**SMALL).fit(X_small, np.full(20, 7), X_val=X_small, y_val=y[:20])


def test_missing_feature_at_predict_is_named(fitted_model: PaymentRiskModel, training_data: dict):
    X = training_data["test"][0].head(3).drop(columns=["late_ratio_by_count"])
    with pytest.raises(FeatureMismatchError, match="late_ratio_by_count"):
        fitted_model.predict_proba(X)


def test_buckets_are_a_parameter() -> None:
    model = PaymentRiskModel(buckets=LateBuckets(edges_days=(0, 30)))
    assert model.get_params()["buckets"].n_classes == 3


def _reference_matrix(model: PaymentRiskModel, X: pd.DataFrame) -> np.ndarray:
    """The conversion as first written (pandas per column): the fast one must match it."""
    columns = []
    for name in model.feature_names_in_:
        if name in model.category_levels_:
            levels = pd.Index(model.category_levels_[name], dtype="string")
            codes = levels.get_indexer(X[name].astype("string"))
            columns.append(np.where(codes < 0, np.nan, codes).astype("float64"))
        else:
            columns.append(pd.to_numeric(X[name]).astype("float64").to_numpy(na_value=np.nan))
    return np.column_stack(columns)


def test_a_prepared_matrix_gives_the_same_numbers(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    X = training_data["test"][0].head(40).reset_index(drop=True)
    # non-float64 numeric columns, a missing and an unseen category take the slow way
    X = X.assign(
        amount=X["amount"].astype("Float64"),
        currency=X["currency"].where(X.index % 7 != 0, None).where(X.index % 5 != 1, "JPY"),
    )
    matrix = fitted_model.prepare(X)
    np.testing.assert_array_equal(matrix, _reference_matrix(fitted_model, X))
    as_of = pd.Series(pd.to_datetime(["2026-03-10"] * len(X)))
    due = pd.Series(pd.to_datetime(["2026-04-01", "2025-11-01", None, "2026-03-09"] * 10))
    np.testing.assert_array_equal(
        fitted_model.predict_proba(X, matrix=matrix), fitted_model.predict_proba(X)
    )
    framed = fitted_model.predict_frame(X, as_of, due, matrix=matrix)
    pd.testing.assert_frame_equal(framed, fitted_model.predict_frame(X, as_of, due))
    for method in ("shap", "path"):
        pd.testing.assert_frame_equal(
            fitted_model.contributions(X, method, matrix=matrix),
            fitted_model.contributions(X, method),
        )
    with pytest.raises(FeatureMismatchError, match="prepared matrix has shape"):
        fitted_model.predict_proba(X.head(3), matrix=matrix)


def test_predict_frame_dates_follow_the_days(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    """Expected days late = probability-weighted bucket days, floored at the days overdue;
    the payment date is the due date plus its rounded value; no due date -> NaT."""
    X = training_data["test"][0].head(4).reset_index(drop=True)
    as_of = pd.Series(pd.to_datetime(["2026-03-10"] * 4))
    due = pd.Series(pd.to_datetime(["2026-04-01", "2025-11-01", None, "2026-03-09"]))
    frame = fitted_model.predict_frame(X, as_of, due)
    expected = fitted_model.predict_proba(X) @ fitted_model.bucket_days_
    overdue = np.array([-22.0, 129.0, np.nan, 1.0])
    np.testing.assert_allclose(frame["expected_days_late"], np.fmax(expected, overdue))
    dates = frame["predicted_payment_date"]
    assert dates.dtype == "datetime64[ns]" and pd.isna(dates.iloc[2])
    for row in (0, 1, 3):
        days = round(float(frame["expected_days_late"].iloc[row]))
        assert dates.iloc[row] == due.iloc[row] + pd.Timedelta(days=days)
