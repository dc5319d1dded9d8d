"""The roll-up's numbers are pandas' own, bit for bit (``models.rollup``): the refresh,
the worklist and every live answer must agree to the last digit."""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.rollup import RiskTiers, customer_rollup

# A real customer's open amounts whose compensated (pandas) sum differs from the plain one
AMOUNTS = [
    337809.05, 259444.63, 332821.68, 191884.66, 128474.86, 119418.72, 144874.07,
    94436.87, 110881.68, 84202.12, 106636.83, 74182.66, 61449.06,
]  # fmt: skip


def test_sums_are_pandas_compensated_sums_even_next_to_an_unrated_currency() -> None:
    n = len(AMOUNTS)
    scored = pd.DataFrame(
        {
            "customer_id": ["a"] * n + ["b"],
            "open_amount": [*AMOUNTS, 5.0],
            "p_over_30": np.linspace(0.01, 0.3, n + 1),
            "currency": ["ILS"] * n + ["USD"],  # ILS has no rate: NaN amounts at risk
        }
    )
    assert sum(AMOUNTS) != pd.Series(AMOUNTS).groupby([0] * n).sum().iloc[0]  # the point
    rollup = customer_rollup(scored, RiskTiers()).set_index("customer_id")
    grouped = scored.groupby("customer_id")
    expected = (scored["open_amount"] * scored["p_over_30"]).groupby(scored["customer_id"])
    assert rollup.loc["a", "open_amount"] == grouped["open_amount"].sum()["a"]
    assert rollup.loc["a", "expected_amount_over_30"] == expected.sum()["a"]
    assert rollup.loc["a", "max_p_over_30"] == grouped["p_over_30"].max()["a"]
    assert pd.isna(rollup.loc["a", "amount_at_risk"])
    assert rollup.index.tolist() == ["b", "a"]


def test_share_falls_back_to_the_mean_probability_when_nothing_is_owed() -> None:
    scored = pd.DataFrame(
        {
            "customer_id": ["z", "z", "y"],
            "open_amount": [0.0, np.nan, 10.0],
            "p_over_30": [0.2, 0.5, 0.1],
        }
    )
    rollup = customer_rollup(scored).set_index("customer_id")
    assert rollup.loc["z", "expected_share_over_30"] == (0.2 + 0.5) / 2
    assert rollup.loc["z", "open_invoices"] == 2
    assert rollup.loc["y", "expected_share_over_30"] == 0.1
    assert str(rollup["open_invoices"].dtype) == "int64"


def test_rates_match_the_per_row_definition() -> None:
    currencies = pd.Series(["usd", "EUR", None, "eur", "XYZ", "ILS"], dtype="string", name="cur")
    tiers = RiskTiers("usd", {"eur": 1.1, "ILS": 0.27})
    rates = tiers.rates_for(currencies)
    assert rates.tolist()[:4] == [1.0, 1.1, 1.0, 1.1]
    assert np.isnan(rates.iloc[4]) and rates.iloc[5] == 0.27
    assert rates.name == "cur" and str(rates.dtype) == "float64"
    assert rates.index.equals(currencies.index)
