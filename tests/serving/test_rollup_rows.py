"""The per-customer rows of an answer (``serving.rollup_rows``) and the quick text columns
of ``serving.ledger_reads``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.rollup import RiskTiers
from serving.ledger_reads import _string_array
from serving.rollup_rows import ROLLUP_COLUMNS, rollup_customers


def _invoices() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "customer_id": pd.array(["a", "b", "a", "c", "c", "d"], dtype="string"),
            "currency": pd.array(["EUR", "USD", "EUR", "USD", None, "usd"], dtype="string"),
            "open_amount": [100.0, 50.0, 300.0, 10.0, 20.0, 1.0],
            "p_over_30": [0.5, 0.1, 0.2, 0.3, 0.4, 0.9],
        }
    )


def test_rows_come_in_the_asked_order_with_zeros_for_nothing_open() -> None:
    rows = rollup_customers(_invoices(), ["c", "nobody", "a", "b"], RiskTiers("USD", {"EUR": 2.0}))
    assert list(rows.columns) == [*ROLLUP_COLUMNS, "reasons_row"]
    assert rows["customer_id"].tolist() == ["c", "nobody", "a", "b"]
    assert rows["reasons_row"].tolist() == [3, -1, 0, 1]  # first (riskiest) row, -1 when none
    assert rows["open_invoices"].tolist() == [2, 0, 2, 1]
    assert rows["open_amount"].tolist() == [30.0, 0.0, 400.0, 50.0]
    assert rows["amount_at_risk"].tolist() == pytest.approx([11.0, 0.0, 220.0, 5.0])
    assert rows["risk_tier"].tolist() == ["low", "low", "low", "low"]
    # c mixes USD with a missing currency: no single currency, like an unknown customer
    assert rows["currency"].isna().tolist() == [True, True, False, False]
    assert rows["currency"].tolist()[2:] == ["EUR", "USD"]


def test_currencies_differing_only_in_case_are_mixed() -> None:
    invoices = _invoices()
    invoices.loc[5, "customer_id"] = "b"  # b: "USD" and "usd"
    rows = rollup_customers(invoices, ["b"])
    assert rows["currency"].isna().all()


def test_no_open_invoices_at_all() -> None:
    rows = rollup_customers(_invoices().iloc[:0], ["a", "b"])
    assert rows["reasons_row"].tolist() == [-1, -1]
    assert rows["open_amount"].tolist() == [0.0, 0.0]
    assert rows["risk_tier"].tolist() == ["low", "low"]
    assert rows["currency"].isna().all()


@pytest.mark.parametrize(
    "values",
    [["a", None, "ß"], [], [None], ["x", 5], ["x", float("nan")], ("t",)],
)
def test_text_columns_equal_pandas_own_conversion(values: list[object]) -> None:
    quick = _string_array(values)
    pd.testing.assert_extension_array_equal(quick, pd.array(list(values), dtype="string"))
    assert quick.dtype == pd.StringDtype()


def test_first_rows_are_positions_in_the_invoices() -> None:
    invoices = _invoices()
    rows = rollup_customers(invoices, ["d"])
    position = int(rows["reasons_row"].iloc[0])
    assert invoices["customer_id"].iloc[position] == "d"
    assert np.isclose(rows["amount_at_risk"].iloc[0], 0.9)
