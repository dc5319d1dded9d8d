"""The array shortcuts of the stored-mode miss give what the pandas calls they replace
gave: per-customer data starts (``serving.scoring``), typed frames
(``serving.ledger_reads``) and level codes (``models.feature_matrix``)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from ledger.contract import TABLES
from ledger.frames import Ledger
from ledger.synthetic import GeneratorConfig, generate_ledger
from models.feature_matrix import feature_matrix
from serving.ledger_reads import typed_frame
from serving.scoring import data_start_by_customer


@pytest.fixture(scope="module")
def small_ledger() -> Ledger:
    return generate_ledger(GeneratorConfig(customers=12, years=1.0, seed=3)).ledger


def _reference_starts(ledger: Ledger) -> pd.Series:
    pairs = (
        ("customers", "created_date"),
        ("invoices", "issue_date"),
        ("payments", "payment_date"),
        ("activities", "date"),
    )
    ids = pd.concat([ledger.table(name)["customer_id"] for name, _ in pairs], ignore_index=True)
    days = np.concatenate(
        [ledger.table(name)[day].to_numpy(dtype="datetime64[ns]") for name, day in pairs]
    )
    return pd.Series(days, name="day").groupby(ids).min()


def test_data_starts_are_groupby_minimums_skipping_unknown_dates(small_ledger: Ledger) -> None:
    invoices = small_ledger.invoices.copy()
    invoices.loc[:3, "issue_date"] = pd.NaT
    invoices.loc[4:5, "customer_id"] = pd.NA  # no customer: left out
    invoices.loc[6, ["customer_id", "issue_date"]] = ["only-unknown-dates", pd.NaT]
    ledger = Ledger(
        customers=small_ledger.customers,
        invoices=invoices,
        payments=small_ledger.payments,
        activities=small_ledger.activities,
    )
    starts = data_start_by_customer(ledger)
    pd.testing.assert_series_equal(starts, _reference_starts(ledger), check_exact=True)
    assert pd.isna(starts["only-unknown-dates"])


def test_data_starts_of_no_data() -> None:
    empty = Ledger.from_frames()
    pd.testing.assert_series_equal(data_start_by_customer(empty), _reference_starts(empty))


@pytest.mark.parametrize("order", [[0, 1, 2], [2, 0, 1]])
def test_typed_frames_are_in_key_order_whatever_the_keys(order: list[int]) -> None:
    table = TABLES["invoices"]
    rows = [
        ("i2", "c1", "2026-01-02", "2026-02-01", 5.0, "EUR", "net30", True, 0, None),
        ("i10", "c1", "2026-01-01", None, None, None, None, None, 1, "2026-03-01"),
        (7, "c2", None, None, 2.0, "USD", None, False, None, None),  # not text: pandas' way
    ]
    frame = typed_frame(table, [rows[i] for i in order])
    assert frame["invoice_id"].tolist() == ["7", "i10", "i2"]
    assert frame["disputed"].tolist() == [False, pd.NA, True]
    assert frame["disputed"].dtype == "boolean"


def test_level_codes_match_the_index_lookup_for_any_text_dtype() -> None:
    levels = {"terms": ["eom+30", "net30", "net60"]}
    values = ["net60", None, "net30", "net45"]
    expected = np.array([[2.0], [np.nan], [1.0], [np.nan]])
    for dtype in ["string", "str", object, "category"]:
        frame = pd.DataFrame({"terms": pd.Series(values, dtype=dtype)})
        np.testing.assert_array_equal(feature_matrix(frame, ["terms"], levels), expected)
