"""Baselines: valid probabilities, the aging order, the late-ratio prior."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.baselines import AgingBaseline, HistoricalLateRatioBaseline, LogisticBaseline
from models.calibration import cumulative_from_proba
from models.estimator import FeatureMismatchError, TrainingDataError

BASELINES = (AgingBaseline, HistoricalLateRatioBaseline, LogisticBaseline)


@pytest.mark.parametrize("baseline_class", BASELINES)
def test_baselines_produce_valid_probabilities(baseline_class: type, training_data: dict) -> None:
    X, y, _ = training_data["train"]
    X_test, _, _ = training_data["test"]
    baseline = baseline_class().fit(X, y, X_val=X_test, y_val=y)
    proba = baseline.predict_proba(X_test)
    assert proba.shape == (len(X_test), 5)
    assert proba.min() >= 0 and proba.max() <= 1
    assert proba.sum(axis=1) == pytest.approx(np.ones(len(X_test)))
    cumulative = cumulative_from_proba(proba)
    assert np.all(np.diff(cumulative, axis=1) <= 1e-9)
    assert baseline.priority(X_test).shape == (len(X_test),)


def test_aging_priority_orders_by_days_times_amount_then_amount() -> None:
    X = pd.DataFrame(
        {"days_overdue": [0.0, 10.0, 10.0, 5.0, 0.0], "open_amount": [100.0, 50, 80, 10, 200]}
    )
    priority = AgingBaseline().priority(X)
    # scores 0, 500, 800, 50, 0: row 2, row 1, row 3, then the tie at 0 by amount: 4, 0
    assert np.argsort(-priority, kind="stable").tolist() == [2, 1, 3, 4, 0]


def test_aging_probabilities_grow_with_the_score() -> None:
    X = pd.DataFrame(
        {"days_overdue": [0.0, 0, 10, 20, 40, 60], "open_amount": [1.0, 1, 1, 1, 1, 1]}
    )
    y = np.array([0, 0, 0, 1, 2, 2])
    p_late = 1 - AgingBaseline().fit(X, y, X_val=X, y_val=y).predict_proba(X)[:, 0]
    assert np.all(np.diff(p_late) >= 0)
    assert p_late[0] < 0.01 and p_late[-1] > 0.99


def test_historical_ratio_uses_the_training_prior_without_history() -> None:
    X = pd.DataFrame({"late_ratio_by_count": [0.0, 1.0, np.nan, 0.5], "open_amount": 1.0})
    y = np.array([0, 2, 1, 0])
    baseline = HistoricalLateRatioBaseline().fit(X, y, X_val=X, y_val=y)
    assert baseline.prior_late_ratio_ == pytest.approx(0.5)
    assert baseline.risk_score(X).tolist() == [0.0, 1.0, 0.5, 0.5]


def test_logistic_tolerates_unseen_category_and_absent_bucket() -> None:
    X = pd.DataFrame(
        {
            "open_amount": [10.0, 20, np.nan, 40, 50, 60],
            "currency": pd.array(["USD", "EUR", "USD", None, "EUR", "USD"], dtype="string"),
        }
    )
    y = np.array([0, 1, 0, 1, 2, 0])  # bucket 3 and 4 never seen
    baseline = LogisticBaseline().fit(X, y, X_val=X, y_val=y)
    new_rows = X.assign(currency=pd.array(["JPY"] * 6, dtype="string"))
    proba = baseline.predict_proba(new_rows)
    assert proba[:, 3:].max() == 0
    assert proba.sum(axis=1) == pytest.approx(np.ones(6))


def test_baseline_errors_are_clear() -> None:
    X = pd.DataFrame({"days_overdue": [1.0, 2.0], "open_amount": [1.0, 1.0]})
    with pytest.raises(TrainingDataError, match="one bucket"):
        AgingBaseline().fit(X, np.array([1, 1]), X_val=X, y_val=np.array([1, 1]))
    with pytest.raises(FeatureMismatchError, match="late_ratio_by_count"):
        HistoricalLateRatioBaseline().fit(X, np.array([0, 1]), X_val=X, y_val=np.array([0, 1]))
