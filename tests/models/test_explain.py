"""Explanations: the explained quantity, aggregation, top-k, and the sign on a real model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.estimator import PaymentRiskModel
from models.explain import (
    REASON_GROUPS,
    Reason,
    aggregate_contributions,
    explain,
    late_log_odds_contributions,
    leaf_tables,
    path_contributions,
    reasons_frame,
    top_reasons,
)


def test_late_log_odds_contributions_by_hand() -> None:
    # 3 classes, 2 features (+ bias): z = [1, 2, 2] so the late classes weigh 1/2 each
    raw = np.array([[1.0, 0.0, 0.0, 0.0, 2.0, 0.0, 1.0, 1.0, 0.0]])
    contributions = late_log_odds_contributions(raw, n_classes=3, n_features=2)
    assert contributions[0].tolist() == pytest.approx([0.5 * 0 + 0.5 * 1 - 1, 0.5 * 2 + 0.5 * 1])


def test_contributions_add_up_to_the_late_log_odds(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    X = training_data["test"][0].head(50)
    raw = fitted_model.booster_.predict(
        fitted_model._matrix(X), num_iteration=fitted_model.best_iteration_, pred_contrib=True
    ).reshape(50, 5, -1)
    scores = raw.sum(axis=2)
    late_share = np.exp(scores[:, 1:]) / np.exp(scores[:, 1:]).sum(axis=1, keepdims=True)
    bias = (late_share * raw[:, 1:, -1]).sum(axis=1) - raw[:, 0, -1]
    proba = fitted_model.predict_proba_uncalibrated(X)
    entropy = -(late_share * np.log(late_share)).sum(axis=1)
    log_odds = np.log((1 - proba[:, 0]) / proba[:, 0])
    total = fitted_model.contributions(X).sum(axis=1).to_numpy() + bias
    assert total == pytest.approx(log_odds - entropy, abs=1e-6)


def test_aggregate_one_hot_columns() -> None:
    contributions = pd.DataFrame(
        {"currency_USD": [0.25, -0.5], "amount": [1.0, 2.0], "currency_EUR": [0.5, 0.0]}
    )
    summed = aggregate_contributions(
        contributions, {"currency_USD": "currency", "currency_EUR": "currency"}
    )
    assert list(summed.columns) == ["currency", "amount"]
    assert summed["currency"].tolist() == [0.75, -0.5]


def test_top_reasons_rank_by_strength_and_skip_zero() -> None:
    contributions = pd.DataFrame(
        {
            "days_overdue": [1.5, 0.0],
            "disputed": [-0.2, 0.0],
            "late_ratio_by_count": [-2.0, 0.4],
            "days_since_last_payment": [0.1, 0.0],
        }
    )
    X = pd.DataFrame(
        {
            "days_overdue": [45.0, 0.0],
            "disputed": [0.0, 1.0],
            "late_ratio_by_count": [0.25, np.nan],
            "days_since_last_payment": [74.0, np.nan],
        }
    )
    first, second = top_reasons(contributions, X, k=3)
    assert [reason.feature for reason in first] == [
        "late_ratio_by_count",
        "days_overdue",
        "disputed",
    ]
    assert first[1] == Reason("days_overdue", 45.0, 1.5, "raises", "invoice is 45 days overdue")
    assert first[0].direction == "lowers"
    assert second == [
        Reason("late_ratio_by_count", None, 0.4, "raises", "new customer: no payment history yet")
    ]
    raising = top_reasons(contributions, X, k=3, only="raises")[0]
    assert [reason.feature for reason in raising] == ["days_overdue", "days_since_last_payment"]
    assert raising[1].text == "no payment for 74 days"
    table = reasons_frame([first, second], index=pd.Index(["i1", "i2"]))
    assert table[["row", "rank"]].values.tolist() == [["i1", 1], ["i1", 2], ["i1", 3], ["i2", 1]]


def test_long_late_history_is_a_reason_that_raises_risk(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    X = (
        training_data["test"][0]
        .head(20)
        .assign(paid_invoices_count=19.0, late_invoices_count=18.0, late_ratio_by_count=18 / 19)
    )
    for row_reasons in explain(fitted_model, X, k=3):
        history = [r for r in row_reasons if r.feature == "late_ratio_by_count"]
        assert history, row_reasons
        assert history[0].direction == "raises" and history[0].contribution > 0
        assert history[0].text == "18 of 19 paid invoices paid late"
    hebrew = explain(fitted_model, X.head(1), k=3, lang="he")[0]
    texts = [r.text for r in hebrew if r.feature == "late_ratio_by_count"]
    assert texts == ["שולמו באיחור: 18 מתוך 19 החשבוניות ששולמו"]


def test_path_contributions_add_up_to_the_raw_scores(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    X = training_data["test"][0].head(40)
    matrix = fitted_model._matrix(X)
    best = fitted_model.best_iteration_
    path = path_contributions(fitted_model.booster_, matrix, best).reshape(40, 5, -1)
    raw_scores = fitted_model.booster_.predict(matrix, num_iteration=best, raw_score=True)
    assert path.sum(axis=2) == pytest.approx(raw_scores, abs=1e-9)
    shap = fitted_model.contributions(X)
    fast = fitted_model.contributions(X, method="path")
    strongest = shap.abs().idxmax(axis=1)
    agree = [np.sign(shap.at[i, f]) == np.sign(fast.at[i, f]) for i, f in strongest.items()]
    assert all(agree)


def test_explain_merges_features_that_say_the_same(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    X = training_data["test"][0].head(30)
    merged = {"late_invoices_count", "paid_invoices_count"}
    assert merged <= set(REASON_GROUPS)
    for method in ("shap", "path"):
        for row_reasons in explain(fitted_model, X, k=5, method=method):  # type: ignore[arg-type]
            assert not merged & {reason.feature for reason in row_reasons}


def test_a_reason_repeating_another_in_words_is_skipped() -> None:
    contributions = pd.DataFrame(
        {"days_overdue": [1.0], "days_to_due": [0.9], "disputed": [0.5], "amount": [0.1]}
    )
    X = pd.DataFrame(
        {"days_overdue": [45.0], "days_to_due": [-45.0], "disputed": [1.0], "amount": [10.0]}
    )
    texts = [reason.text for reason in top_reasons(contributions, X, k=3)[0]]
    assert texts == ["invoice is 45 days overdue", "disputed invoice", "invoice amount 10"]


def test_long_late_history_raises_risk_with_the_fast_method_too(
    fitted_model: PaymentRiskModel, training_data: dict
) -> None:
    X = (
        training_data["test"][0]
        .head(20)
        .assign(paid_invoices_count=19.0, late_invoices_count=18.0, late_ratio_by_count=18 / 19)
    )
    for row_reasons in explain(fitted_model, X, k=3, method="path"):
        history = [r for r in row_reasons if r.feature == "late_ratio_by_count"]
        assert history and history[0].direction == "raises", row_reasons


def test_leaf_tables_are_built_once_per_booster_and_round_count(
    fitted_model: PaymentRiskModel,
) -> None:
    booster, best = fitted_model.booster_, fitted_model.best_iteration_
    first = leaf_tables(booster, best)
    assert leaf_tables(booster, best) is first
    fewer = leaf_tables(booster, 1)
    assert fewer is not first
    assert fewer.offsets.size == first.n_classes + 1  # one round: one tree per class


def test_row_records_are_to_dict_records() -> None:
    from models.explain import row_records

    frame = pd.DataFrame(
        {
            "terms": pd.array(["net30", None], dtype="string"),
            "amount": [1.5, np.nan],
            "as_of": pd.to_datetime(["2026-01-31", None]),
            "disputed": pd.array([True, None], dtype="boolean"),
            "count": pd.array([3, None], dtype="Int64"),
        }
    )
    fast, reference = row_records(frame), frame.to_dict("records")
    assert [list(row) for row in fast] == [list(row) for row in reference]
    for mine, theirs in zip(fast, reference, strict=True):
        for name, value in theirs.items():
            assert (pd.isna(value) and pd.isna(mine[name])) or mine[name] == value, name
            assert (mine[name] is None) == (value is None), name


def test_row_records_keep_each_columns_own_missing_value() -> None:
    from models.explain import row_records

    frame = pd.DataFrame(
        {
            "text": pd.array(["a", None], dtype="str"),  # missing is NaN here, not pd.NA
            "objects": pd.Series(["x", pd.NA], dtype=object),  # numpy column: pd.NA stays
            "count": pd.array([1, None], dtype="Int64"),
            "whole": [3, 4],
        }
    )
    rows = row_records(frame)
    assert np.isnan(rows[1]["text"])
    assert rows[1]["objects"] is pd.NA
    assert rows[1]["count"] is None
    assert [type(row["whole"]) for row in rows] == [int, int]
