"""The roll-up's sums are exact (``models.rollup``): a customer's numbers depend on its own
rows alone, so the refresh, the worklist and every live answer (alone or in a micro-batch)
agree to the last digit."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

from models.rollup import RiskTiers, customer_rollup

# A real customer's open amounts whose pandas group sum depends on the rows around them
AMOUNTS = [
    337809.05, 259444.63, 332821.68, 191884.66, 128474.86, 119418.72, 144874.07,
    94436.87, 110881.68, 84202.12, 106636.83, 74182.66, 61449.06,
]  # fmt: skip


def _customer_a(other: str) -> pd.DataFrame:
    """Customer a's rows alone (``other`` = "none") or beside b's ("before" or "after")."""
    n = len(AMOUNTS)
    a = pd.DataFrame(
        {
            "customer_id": ["a"] * n,
            "open_amount": AMOUNTS,
            "p_over_30": np.linspace(0.01, 0.3, n),
            "currency": ["ILS"] * n,  # ILS has no rate: NaN amounts at risk
        }
    )
    b = pd.DataFrame({"customer_id": ["b"], "open_amount": [5.0], "p_over_30": [0.2]})
    frames = {"none": [a], "before": [b, a], "after": [a, b.assign(currency="USD")]}[other]
    return pd.concat(frames, ignore_index=True)


def test_sums_are_exact_whatever_other_customers_share_the_frame() -> None:
    n = len(AMOUNTS)
    first = pd.Series([5.0, *AMOUNTS]).groupby([1] + [0] * n).sum().loc[0]
    assert pd.Series(AMOUNTS).groupby([0] * n).sum().iloc[0] != first  # the point
    p_over_30 = np.linspace(0.01, 0.3, n)
    for other in ("none", "before", "after"):
        scored = _customer_a(other)
        rollup = customer_rollup(scored, RiskTiers()).set_index("customer_id")
        assert rollup.loc["a", "open_amount"] == math.fsum(AMOUNTS)
        expected = math.fsum(amount * p for amount, p in zip(AMOUNTS, p_over_30, strict=True))
        assert rollup.loc["a", "expected_amount_over_30"] == expected
        assert rollup.loc["a", "expected_share_over_30"] == expected / math.fsum(AMOUNTS)
        assert rollup.loc["a", "max_p_over_30"] == p_over_30.max()
        assert pd.isna(rollup.loc["a", "amount_at_risk"])
        assert rollup.index.tolist() == (["a"] if other == "none" else ["b", "a"])


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
