"""Evaluation helpers: weighted AUC, customer bootstrap, per-day capture, the metrics frame."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from models.buckets import LateBuckets
from training.capture import daily_capture_curve, daily_metrics, worklist_days
from training.confidence import bootstrap_auc_interval, weighted_roc_auc
from training.evaluate import (
    GAP,
    ORACLE,
    EvaluationConfig,
    Scores,
    metrics_frame,
    sample_warnings,
)


def test_weighted_auc_matches_sklearn_with_ties_and_weights() -> None:
    target = np.array([0, 1, 0, 1, 1, 0, 0, 1], dtype=float)
    score = np.array([0.1, 0.4, 0.4, 0.8, 0.2, 0.9, 0.3, 0.8])
    weight = np.array([1, 2, 1, 1, 3, 1, 2, 1], dtype=float)
    expected = roc_auc_score(target, score, sample_weight=weight)
    assert weighted_roc_auc(target, score, weight) == pytest.approx(expected)
    assert weighted_roc_auc(target, score, np.ones(8)) == pytest.approx(
        roc_auc_score(target, score)
    )
    assert np.isnan(weighted_roc_auc(np.ones(3), np.arange(3.0), np.ones(3)))


def test_bootstrap_interval_is_seeded_and_brackets_the_estimate() -> None:
    rng = np.random.default_rng(0)
    customers = np.repeat(np.arange(40), 5)
    target = (rng.random(200) < 0.4).astype(float)
    score = target * 0.5 + rng.random(200)
    low, high = bootstrap_auc_interval(target, score, customers, rounds=100, seed=3)
    assert (low, high) == bootstrap_auc_interval(target, score, customers, rounds=100, seed=3)
    assert low < roc_auc_score(target, score) < high
    assert np.isnan(bootstrap_auc_interval(target, score, customers, rounds=0, seed=3)[0])


def _worklist() -> pd.DataFrame:
    """Two grid days of three invoices, plus an issue row on a non-grid date."""
    return pd.DataFrame(
        {
            "invoice_id": ["a", "b", "c", "a", "b", "d", "e"],
            "customer_id": ["x", "x", "y", "x", "x", "y", "y"],
            "as_of": pd.to_datetime(["2024-01-01"] * 3 + ["2024-01-15"] * 3 + ["2024-01-03"]),
            "kind": ["grid"] * 6 + ["issue"],
            "open_amount": [100.0, 300.0, 50.0, 100.0, 300.0, 600.0, 900.0],
            "over_30": pd.array([1, 0, 1, 1, 1, pd.NA, 1], dtype="Int64"),
            "over_30_known": [True, True, True, True, True, False, True],
        }
    )


def test_daily_capture_pools_days_weighted_by_their_late_amount() -> None:
    rows = _worklist()
    assert worklist_days(rows).tolist() == [True] * 5 + [False, False]
    priority = np.array([3.0, 2.0, 1.0, 1.0, 2.0, 9.0, 9.0])
    curve = daily_capture_curve(rows, priority, n_points=3)  # fractions 0, 0.5, 1
    # day 1 (late amount 150): top ceil(0.5*3)=2 rows are a, b -> 100 captured;
    # day 2 (late amount 400): top ceil(0.5*2)=1 row is b -> 300 captured.
    assert curve["capture"].tolist() == pytest.approx([0.0, 400 / 550, 1.0])
    assert curve["days"].iloc[0] == 2
    daily = daily_metrics(rows, priority)
    # top 10% and 20% of 3 (or 2) rows is 1 row: day 1 -> a (100), day 2 -> b (300)
    assert daily["capture_at_10_daily"] == pytest.approx(400 / 550)
    assert daily["worklist_days"] == 2.0


def _test_rows() -> pd.DataFrame:
    rows = _worklist().iloc[:6].copy()
    rows["bucket"] = pd.array([2, 0, 3, 2, 2, pd.NA], dtype="Int64")
    rows["late"] = pd.array([1, 0, 1, 1, 1, 1], dtype="Int64")
    rows["over_30"] = pd.array([1, 0, 1, 1, 1, pd.NA], dtype="Int64")
    rows["paid_invoices_count"] = [5.0, 5.0, 0.0, 6.0, 6.0, 1.0]
    return rows


def test_metrics_frame_has_scorers_slices_counts_and_the_oracle_gap() -> None:
    buckets = LateBuckets()
    rows = _test_rows()
    proba = np.tile([0.4, 0.2, 0.2, 0.1, 0.1], (6, 1))
    proba[[0, 2, 3], :] = [0.1, 0.1, 0.4, 0.2, 0.2]
    model = Scores(buckets.p_late(proba), buckets.p_over(proba, 30), np.arange(6.0), proba)
    oracle = Scores(np.array([0.9, 0.1, 0.9, 0.9, 0.8, 0.7]), np.full(6, 0.5), np.ones(6))
    config = EvaluationConfig(cold_start_min_paid=3, small_sample_rows=10, bootstrap_rounds=0)
    frame = metrics_frame(rows, {"model": model, ORACLE: oracle}, buckets, config)
    assert list(frame.columns) == ["scorer", "slice", "metric", "value"]
    value = frame.set_index(["scorer", "slice", "metric"])["value"]
    assert value[("model", "all", "n_rows")] == 6
    assert value[("model", "cold_start", "n_rows")] == 2  # paid_invoices_count 0 and 1
    assert value[("model", "warm", "n_late")] == 3
    assert value[("model", "all", "n_over_30_known")] == 5
    # late rows score 0.9, 0.9, 0.9, 0.6, 0.6; the on-time row 0.6 (ties count one half)
    assert value[("model", "all", "roc_auc_late")] == pytest.approx(0.8)
    assert value[(ORACLE, "all", "roc_auc_late")] == 1.0
    assert (ORACLE, "all", "log_loss") not in value.index  # the oracle has no buckets
    assert value[(GAP, "all", "brier_late")] == pytest.approx(
        value[(ORACLE, "all", "brier_late")] - value[("model", "all", "brier_late")]
    )
    warnings = sample_warnings(frame, config, "test")
    assert len(warnings) == 3 and "slice 'cold_start': only 2 labeled rows (< 10)" in warnings[1]


def test_distance_to_the_truth_counts_every_row_and_needs_the_oracle() -> None:
    buckets = LateBuckets()
    rows = _test_rows()
    proba = np.tile([0.4, 0.2, 0.2, 0.1, 0.1], (6, 1))  # P(late) 0.6, P(> 30) 0.4
    model = Scores(buckets.p_late(proba), buckets.p_over(proba, 30), np.arange(6.0), proba)
    oracle = Scores(np.array([0.9, 0.1, 0.9, 0.9, 0.8, 0.7]), np.full(6, 0.5), np.ones(6))
    config = EvaluationConfig(cold_start_min_paid=3, small_sample_rows=10, bootstrap_rounds=0)
    frame = metrics_frame(rows, {"model": model, ORACLE: oracle}, buckets, config)
    value = frame.set_index(["scorer", "slice", "metric"])["value"]
    # row 5 has neither a bucket nor an over_30 label: the distance counts it anyway
    squares = np.array([0.3, 0.5, 0.3, 0.3, 0.2, 0.1]) ** 2
    assert value[("model", "all", "truth_mse_late")] == pytest.approx(squares.mean())
    assert value[("model", "all", "truth_mse_over_30")] == pytest.approx(0.1**2)
    assert value[("model", "cold_start", "truth_mse_late")] == pytest.approx(squares[[2, 5]].mean())
    assert not frame["metric"].str.startswith("truth_mse").loc[frame["scorer"] != "model"].any()
    alone = metrics_frame(rows, {"model": model}, buckets, config)
    assert not alone["metric"].str.startswith("truth_mse").any()


def test_multiclass_log_loss_is_also_scored_on_the_matured_rows_only() -> None:
    buckets = LateBuckets()
    rows = _test_rows()  # buckets 2, 0, 3, 2, 2, unknown
    proba = np.tile([0.4, 0.2, 0.2, 0.1, 0.1], (6, 1))
    proba[[0, 2, 3], :] = [0.1, 0.1, 0.4, 0.2, 0.2]
    model = Scores(buckets.p_late(proba), buckets.p_over(proba, 30), np.arange(6.0), proba)
    config = EvaluationConfig(cold_start_min_paid=3, small_sample_rows=10, bootstrap_rounds=0)
    without = metrics_frame(rows, {"model": model}, buckets, config)
    assert "log_loss_matured" not in set(without["metric"])
    rows["bucket_matured"] = [True, False, True, True, False, False]
    frame = metrics_frame(rows, {"model": model}, buckets, config)
    value = frame.set_index(["scorer", "slice", "metric"])["value"]
    # rows 0, 2, 3: buckets 2, 3, 2 at probabilities 0.4, 0.2, 0.4
    expected = -np.mean(np.log([0.4, 0.2, 0.4]))
    assert value[("model", "all", "log_loss_matured")] == pytest.approx(expected)
    assert value[("model", "all", "n_bucket_matured")] == 3
    assert value[("model", "all", "log_loss")] != pytest.approx(expected)


def test_bucket_briers_use_the_floor_of_censored_rows_and_skip_the_oracle() -> None:
    buckets = LateBuckets()
    rows = _test_rows()  # buckets 2, 0, 3, 2, 2, unknown (row 5: late, over_30 unknown)
    proba = np.tile([0.4, 0.2, 0.2, 0.1, 0.1], (6, 1))  # S_1..S_4 = 0.6, 0.4, 0.2, 0.1
    model = Scores(buckets.p_late(proba), buckets.p_over(proba, 30), np.arange(6.0), proba)
    oracle = Scores(np.full(6, 0.6), np.full(6, 0.4), np.ones(6))
    config = EvaluationConfig(cold_start_min_paid=3, small_sample_rows=10, bootstrap_rounds=0)
    bucket_2 = (0.4**2 + 0.6**2 + 0.2**2 + 0.1**2) / 4  # outcomes 1, 1, 0, 0
    bucket_0 = (0.6**2 + 0.4**2 + 0.2**2 + 0.1**2) / 4
    bucket_3 = (0.4**2 + 0.6**2 + 0.8**2 + 0.1**2) / 4
    exact_rows = [bucket_2, bucket_0, bucket_3, bucket_2, bucket_2]
    without = metrics_frame(rows, {"model": model, ORACLE: oracle}, buckets, config)
    value = without.set_index(["scorer", "slice", "metric"])["value"]
    assert value[("model", "all", "brier_ordinal")] == pytest.approx(np.mean(exact_rows))
    one_hot_squares = {2: 0.86, 0: 0.46, 3: 1.06}  # e.g. bucket 2: .4^2+.2^2+.8^2+.1^2+.1^2
    assert value[("model", "all", "brier_multiclass")] == pytest.approx(
        np.mean([one_hot_squares[b] for b in (2, 0, 3, 2, 2)])
    )
    bucket_briers = without["metric"].isin(["brier_ordinal", "brier_multiclass"])
    assert set(without.loc[bucket_briers, "scorer"]) == {"model"}  # not the oracle, no gap
    rows["bucket_floor"] = [2, 0, 3, 2, 2, 1]  # row 5 is known to be late: S_1 only
    frame = metrics_frame(rows, {"model": model}, buckets, config)
    value = frame.set_index(["scorer", "slice", "metric"])["value"]
    assert value[("model", "all", "brier_ordinal")] == pytest.approx(np.mean([*exact_rows, 0.4**2]))
    assert value[("model", "cold_start", "brier_ordinal")] == pytest.approx(
        np.mean([bucket_3, 0.4**2])
    )
