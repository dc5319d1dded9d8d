"""The frame ``build_features`` returns: registry columns, dtypes, order, bad rows."""

from __future__ import annotations

import pandas as pd
import pytest

from features.build import build_features
from features.context import FeatureInputError
from features.registry import CATEGORICAL_FEATURES, FEATURE_NAMES, FEATURES, KEY_COLUMNS
from ledger.errors import PayriskError
from ledger.frames import Ledger


def test_registry_names_are_unique_and_include_what_models_rely_on() -> None:
    assert len(set(FEATURE_NAMES)) == len(FEATURES)
    relied_on = {
        "amount",
        "open_amount",
        "log_amount",
        "days_overdue",
        "days_to_due",
        "paid_invoices_count",
        "late_ratio_by_count",
        "late_ratio_by_amount",
        "mean_days_late",
        "currency",
        "terms",
        "terms_days",
    }
    assert relied_on <= set(FEATURE_NAMES)
    assert {"currency", "terms"} <= set(CATEGORICAL_FEATURES)
    assert all(spec.description and spec.unit for spec in FEATURES)


def test_every_registry_feature_is_a_column_and_vice_versa(
    kit,
    three_paid_one_open: Ledger,  # type: ignore[no-untyped-def]
) -> None:
    rows = kit.rows(("i4", "2024-05-10"), ("i1", "2024-01-01"), ("i4", "2024-04-01"))
    rows.index = [7, 3, 5]
    frame = build_features(three_paid_one_open, rows)
    assert tuple(frame.columns) == KEY_COLUMNS + FEATURE_NAMES
    assert frame.index.tolist() == [0, 1, 2]
    assert frame["invoice_id"].tolist() == ["i4", "i1", "i4"]
    assert frame["customer_id"].tolist() == ["c1", "c1", "c1"]
    assert frame["as_of"].dtype == "datetime64[ns]"
    for name in FEATURE_NAMES:
        expected = "string" if name in CATEGORICAL_FEATURES else "float64"
        assert frame[name].dtype == expected, name


def test_the_input_rows_are_not_modified(kit, three_paid_one_open: Ledger) -> None:  # type: ignore[no-untyped-def]
    rows = kit.rows(("i4", "2024-05-10"))
    copy = rows.copy()
    invoices = three_paid_one_open.invoices.copy()
    build_features(three_paid_one_open, rows)
    pd.testing.assert_frame_equal(rows, copy)
    pd.testing.assert_frame_equal(three_paid_one_open.invoices, invoices)


def test_no_rows_give_an_empty_frame(kit, three_paid_one_open: Ledger) -> None:  # type: ignore[no-untyped-def]
    frame = build_features(three_paid_one_open, kit.rows())
    assert len(frame) == 0
    assert tuple(frame.columns) == KEY_COLUMNS + FEATURE_NAMES


@pytest.mark.parametrize(
    ("pairs", "message"),
    [
        ((("nope", "2024-05-10"),), "'nope'"),
        ((("i4", "2024-03-31"),), "before the issue date of invoice 'i4'"),
    ],
)
def test_bad_rows_raise_a_user_error(kit, three_paid_one_open: Ledger, pairs, message) -> None:  # type: ignore[no-untyped-def]
    with pytest.raises(FeatureInputError, match=message):
        build_features(three_paid_one_open, kit.rows(*pairs))


def test_missing_columns_and_dates_raise(three_paid_one_open: Ledger) -> None:
    with pytest.raises(PayriskError, match="as_of"):
        build_features(three_paid_one_open, pd.DataFrame({"invoice_id": ["i4"]}))
    rows = pd.DataFrame({"invoice_id": ["i4"], "as_of": pd.to_datetime([None])})
    with pytest.raises(PayriskError, match="no as_of"):
        build_features(three_paid_one_open, rows)
