"""The customer roll-up and the one risk-tier definition (``models.rollup``)."""

from __future__ import annotations

import pandas as pd
import pytest

from models.rollup import (
    MissingRateError,
    RiskTiers,
    RollupInputError,
    customer_rollup,
    to_reporting,
)

TIERS = RiskTiers(
    reporting_currency="USD", fx_rates={"ILS": 0.25}, high_amount=100.0, medium_amount=20.0
)


def test_rollup_sums_converts_and_tiers_by_amount_at_risk() -> None:
    scored = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b", "c", "d"],
            "open_amount": [100.0, 300.0, 1000.0, 0.0, 400.0],
            "p_over_30": [0.5, 0.1, 0.05, 0.4, 1.0],
            "currency": ["USD", "USD", "ILS", "USD", None],
        }
    )
    rollup = customer_rollup(scored, TIERS).set_index("customer_id")
    # a: 50 + 30 = 80 USD; b: 1000 ILS x 0.05 x 0.25 = 12.5 USD; c: 0; d: 400 (no currency)
    assert rollup.index.tolist() == ["d", "a", "b", "c"]
    assert rollup["amount_at_risk"].tolist() == pytest.approx([400.0, 80.0, 12.5, 0.0])
    assert rollup["risk_tier"].astype(str).tolist() == ["high", "medium", "low", "low"]
    assert rollup.loc["a", "expected_amount_over_30"] == pytest.approx(80.0)
    assert rollup.loc["b", "expected_amount_over_30"] == pytest.approx(50.0)  # in ILS
    assert rollup.loc["a", "expected_share_over_30"] == pytest.approx(0.2)
    assert rollup.loc["c", "expected_share_over_30"] == pytest.approx(0.4)
    assert rollup.loc["a", "open_invoices"] == 2


def test_thresholds_are_inclusive() -> None:
    amounts = pd.Series([100.0, 99.99, 20.0, 19.99, 0.0])
    assert TIERS.tier_of(amounts).astype(str).tolist() == [
        "high",
        "medium",
        "medium",
        "low",
        "low",
    ]


def test_a_currency_without_a_rate_leaves_the_customer_without_a_tier() -> None:
    scored = pd.DataFrame(
        {
            "customer_id": ["a", "a", "b"],
            "open_amount": [100.0, 10.0, 100.0],
            "p_over_30": [0.5, 0.5, 0.5],
            "currency": ["USD", "EUR", "USD"],
        }
    )
    rollup = customer_rollup(scored, TIERS).set_index("customer_id")
    assert pd.isna(rollup.loc["a", "amount_at_risk"]) and pd.isna(rollup.loc["a", "risk_tier"])
    assert rollup.loc["b", "risk_tier"] == "medium"
    assert rollup.index.tolist() == ["b", "a"]  # unrated last
    with pytest.raises(MissingRateError, match="for EUR; set PAYRISK_FX_RATES"):
        to_reporting(scored["open_amount"], scored["currency"], "USD", {"ILS": 0.25})


def test_missing_columns_are_named() -> None:
    with pytest.raises(RollupInputError, match="p_over_30"):
        customer_rollup(pd.DataFrame({"customer_id": ["a"], "open_amount": [1.0]}))


def test_tiers_come_from_settings() -> None:
    from payrisk.settings import Settings

    settings = Settings(
        fx_rates={"ILS": 0.3},
        tier_high_amount=5.0,
        tier_medium_amount=2.0,
        reporting_currency="EUR",
    )
    tiers = RiskTiers.from_settings(settings)
    assert tiers == RiskTiers("EUR", {"ILS": 0.3}, 5.0, 2.0)


def test_settings_refuse_a_medium_threshold_above_the_high_one() -> None:
    from pydantic import ValidationError

    from payrisk.settings import Settings

    with pytest.raises(ValidationError, match=r"tier_medium_amount .* must not exceed"):
        Settings(tier_high_amount=100.0, tier_medium_amount=200.0)


def test_totals_are_the_rollup_in_first_seen_order() -> None:
    from models.rollup import customer_totals

    scored = pd.DataFrame(
        {
            "customer_id": ["b", "a", "b", None],
            "open_amount": [10.0, 300.0, 30.0, 5.0],
            "p_over_30": [0.5, 0.1, 0.2, 0.9],
            "currency": ["ILS", "USD", "ILS", "USD"],
        }
    )
    totals = customer_totals(scored, TIERS)
    assert totals.customer_ids.tolist() == ["b", "a"]
    assert totals.row_codes.tolist() == [0, 1, 0, -1]
    rollup = customer_rollup(scored, TIERS).set_index("customer_id").loc[["b", "a"]]
    assert totals.open_invoices.tolist() == rollup["open_invoices"].tolist()
    assert totals.amount_at_risk.tolist() == rollup["amount_at_risk"].tolist()
    assert TIERS.tier_codes(totals.amount_at_risk).tolist() == [0, 1]  # low, medium
