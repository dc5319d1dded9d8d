"""Out-of-time split: period boundaries, the label-censoring guard, and clear errors."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.buckets import LateBuckets
from training.split import (
    CutoffOutsideData,
    NotEnoughHistory,
    SingleClassSplit,
    SplitConfig,
    backtest_cutoffs,
    bucket_floor,
    check_cutoff,
    plan_split,
    split_frame,
    split_summary,
)

CONFIG = SplitConfig(
    test_months=3,
    validation_months=3,
    label_maturity_days=30,
    min_train_months=3,
    min_split_rows=2,
)
BUCKETS = LateBuckets()


def _ts(text: str) -> pd.Timestamp:
    return pd.Timestamp(text)


def test_plan_boundaries_and_label_cutoffs() -> None:
    plan = plan_split(_ts("2023-01-01"), _ts("2024-12-31"), CONFIG)
    assert plan.bounds("test") == (_ts("2024-09-02"), _ts("2024-12-01"))
    assert plan.label_cutoff("test") == _ts("2024-12-31")
    assert plan.bounds("validation") == (_ts("2024-05-03"), _ts("2024-08-02"))
    assert plan.label_cutoff("validation") == _ts("2024-09-01")
    assert plan.bounds("train") == (_ts("2023-01-01"), _ts("2024-04-02"))
    assert plan.label_cutoff("train") == _ts("2024-05-02")
    # the guard: labels of a split never use a day of the next split
    assert plan.label_cutoff("train") < plan.validation_start
    assert plan.label_cutoff("validation") < plan.test_start


def _frame() -> pd.DataFrame:
    """Rows in each period; invoices whose outcome falls after the next period starts."""
    as_of = [
        "2024-01-10",
        "2024-02-10",
        "2024-03-01",
        "2024-03-15",
        "2024-06-01",
        "2024-06-15",
        "2024-07-01",
        "2024-09-15",
        "2024-10-01",
        "2024-11-01",
    ]
    due = [
        "2024-02-01",
        "2024-03-01",
        "2024-03-10",
        "2024-04-01",
        "2024-06-20",
        "2024-07-01",
        "2024-07-10",
        "2024-10-01",
        "2024-10-20",
        "2024-11-15",
    ]
    settled = [
        "2024-02-01",
        "2024-03-20",
        "2024-03-05",
        "2024-05-20",
        "2024-06-20",
        "2024-08-01",
        "2024-09-15",
        "2024-10-01",
        "2024-11-25",
        None,
    ]
    return pd.DataFrame(
        {
            "invoice_id": [f"i{n}" for n in range(10)],
            "as_of": pd.to_datetime(as_of),
            "due_date": pd.to_datetime(due),
            "settled_date": pd.to_datetime(settled),
            "feature": np.arange(10.0),
        }
    )


def test_split_censors_each_split_at_its_own_cutoff() -> None:
    plan = plan_split(_ts("2023-01-01"), _ts("2024-12-31"), CONFIG)
    splits = split_frame(_frame(), plan, CONFIG, BUCKETS)
    assert splits["train"]["invoice_id"].tolist() == ["i0", "i1", "i2", "i3"]
    assert splits["validation"]["invoice_id"].tolist() == ["i4", "i5", "i6"]
    assert splits["test"]["invoice_id"].tolist() == ["i7", "i8", "i9"]
    train = splits["train"].set_index("invoice_id")
    # i3 was paid 2024-05-20, after the train label cutoff 2024-05-02: open then, 31
    # days overdue -> late and > 30 are known, its bucket is not, its days late hidden.
    assert train.loc["i3", "late"] == 1 and train.loc["i3", "over_30"] == 1
    assert not train.loc["i3", "bucket_known"]
    assert np.isnan(train.loc["i3", "days_late"])
    validation = splits["validation"].set_index("invoice_id")
    # i6 paid 2024-09-15, after the validation label cutoff 2024-09-01: 53 days
    # overdue then, so late and > 30 are known, the bucket (31-60 or 61-90) is not
    assert validation.loc["i6", "late"] == 1 and validation.loc["i6", "over_30"] == 1
    assert not validation.loc["i6", "bucket_known"]
    assert np.isnan(validation.loc["i6", "days_late"])
    assert validation.loc["i5", "bucket"] == 2  # 31 days late, settled before the cutoff
    test = splits["test"].set_index("invoice_id")
    assert test["late"].tolist() == [0, 1, 1]
    assert test["bucket_known"].tolist() == [True, True, False]
    summary = split_summary(splits, plan).set_index("split")
    assert summary.loc["train", "rows"] == 4
    assert summary.loc["train", "rows_bucket_known"] == 3
    assert summary.loc["test", "label_cutoff"] == _ts("2024-12-31")


def test_the_training_labels_never_use_a_date_after_the_validation_start() -> None:
    plan = plan_split(_ts("2023-01-01"), _ts("2024-12-31"), CONFIG)
    train = split_frame(_frame(), plan, CONFIG, BUCKETS)["train"]
    known_days = train.loc[train["bucket_known"] & train["days_late"].notna()]
    settled_used = known_days["due_date"] + pd.to_timedelta(known_days["days_late"], unit="D")
    assert (settled_used < plan.validation_start).all()
    assert len(known_days) == 3


def test_too_little_history_says_how_much_is_needed() -> None:
    with pytest.raises(NotEnoughHistory, match=r"covers 9\.0 months .* needs about 12\.0 months"):
        plan_split(_ts("2024-04-01"), _ts("2024-12-31"), CONFIG)


def test_too_few_labeled_rows_in_a_split() -> None:
    plan = plan_split(_ts("2023-01-01"), _ts("2024-12-31"), CONFIG)
    config = SplitConfig(**{**CONFIG.__dict__, "min_split_rows": 4})
    with pytest.raises(
        NotEnoughHistory,
        match=r"train split \(as-of 2023-01-01 to 2024-04-02\) has 3 labeled rows out of 4",
    ):
        split_frame(_frame(), plan, config, BUCKETS)


def test_a_single_class_in_a_split_is_a_clear_error() -> None:
    frame = _frame()
    on_time = frame.assign(settled_date=frame["due_date"])
    plan = plan_split(_ts("2023-01-01"), _ts("2024-12-31"), CONFIG)
    with pytest.raises(
        SingleClassSplit, match=r"train split .* 4 labeled rows .* every one is on time"
    ):
        split_frame(on_time, plan, CONFIG, BUCKETS)


def test_cutoff_outside_the_data() -> None:
    with pytest.raises(
        CutoffOutsideData, match=r"2025-03-01 is outside .* 2023-01-01 to 2024-12-31"
    ):
        check_cutoff(_ts("2025-03-01"), _ts("2023-01-01"), _ts("2024-12-31"))
    check_cutoff(_ts("2024-12-31"), _ts("2023-01-01"), _ts("2024-12-31"))


def test_backtest_cutoffs_slide_back_and_drop_the_ones_without_history() -> None:
    # 12 months are needed: 19, 16 and 13 months of data fit, 10 do not
    cutoffs = backtest_cutoffs(_ts("2023-06-01"), _ts("2024-12-31"), CONFIG, folds=4)
    assert cutoffs == [_ts("2024-12-31"), _ts("2024-09-30"), _ts("2024-06-30")]
    with pytest.raises(NotEnoughHistory):
        backtest_cutoffs(_ts("2024-06-01"), _ts("2024-12-31"), CONFIG)


def test_bucket_floor_is_the_bucket_or_the_lowest_still_possible() -> None:
    cutoff = _ts("2024-12-31")
    due = pd.Series(pd.to_datetime(["2024-12-01", "2024-11-30", "2025-01-10", "2024-09-01"]))
    # paid on its due date; open 31 days overdue; open, not yet due; open 121 days overdue
    settled = pd.Series(pd.to_datetime(["2024-12-01", None, None, None]))
    floor = bucket_floor(due, settled, cutoff, BUCKETS)
    assert floor.tolist() == [0, 2, 0, 4]
    assert floor.dtype == "int64"


def test_split_frame_adds_the_bucket_floor_of_censored_rows() -> None:
    plan = plan_split(_ts("2023-01-01"), _ts("2024-12-31"), CONFIG)
    validation = split_frame(_frame(), plan, CONFIG, BUCKETS)["validation"]
    # i6 is open at the validation label cutoff, 54 days overdue: at least 31-60
    assert validation["bucket_floor"].tolist() == [0, 2, 2]
    assert validation["bucket_known"].tolist() == [True, True, False]
