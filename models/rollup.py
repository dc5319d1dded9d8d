"""Per-customer roll-up of scored open invoices, and the one definition of the risk tier.

The tier is what a collections manager sees everywhere -- the scoring API, the stored
scores' refresh, the worklist and its pages, the metrics: ``high`` / ``medium`` /
``low`` by the customer's **expected amount at risk** = sum over its open invoices of
``open_amount x P(> 30 days late)``, converted to the reporting currency, against two
configured thresholds (``RiskTiers``: settings ``tier_high_amount`` and
``tier_medium_amount``, both in the reporting currency; a threshold is inclusive).

Rates are units of the reporting currency per 1 unit of a currency (``fx_rates``). An
invoice without a currency counts as in the reporting currency. A customer with an open
invoice in a currency that has no rate has no amount at risk and no tier (NaN / NA):
unlike amounts are never added. ``to_reporting`` instead raises ``MissingRateError``,
for callers that must rank across currencies.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from features.columns import STRING, float_array, string_array
from ledger.errors import PayriskError

RISK_TIERS = ("low", "medium", "high")
TIER_DTYPE = pd.CategoricalDtype(list(RISK_TIERS), ordered=True)


class MissingRateError(PayriskError):
    """Amounts in a currency without an exchange rate to the reporting currency."""


class RollupInputError(PayriskError):
    """Scored rows that lack the columns the customer roll-up needs."""


@dataclass(frozen=True)
class RiskTiers:
    """The tier thresholds and the currency conversion they are measured in."""

    reporting_currency: str = "USD"
    fx_rates: Mapping[str, float] = field(default_factory=dict)
    high_amount: float = 10_000.0
    medium_amount: float = 1_000.0

    @classmethod
    def from_settings(cls, settings: Any) -> RiskTiers:
        """The tiers of a ``payrisk.settings.Settings`` (duck-typed: no import upward)."""
        return cls(
            reporting_currency=settings.reporting_currency,
            fx_rates=dict(settings.fx_rates),
            high_amount=settings.tier_high_amount,
            medium_amount=settings.tier_medium_amount,
        )

    def rates_for(self, currencies: pd.Series) -> pd.Series:
        """Per row, the rate to the reporting currency (NaN where none is configured)."""
        rates = self.rate_array(currencies)
        return pd.Series(rates, index=currencies.index, name=currencies.name, dtype="float64")

    def rate_array(self, currencies: pd.Series | ExtensionArray) -> np.ndarray:
        """``rates_for`` as a float64 array (no Series: the per-request roll-up)."""
        reporting = self.reporting_currency.upper()
        table = {str(code).upper(): float(rate) for code, rate in self.fx_rates.items()}
        table[reporting] = 1.0
        # per distinct code, not per row: a ledger holds a handful of currencies
        codes, distinct = pd.factorize(string_array(currencies))
        upper = pd.Series(distinct, dtype=STRING).str.upper().tolist()
        known = [table.get(code, np.nan) for code in upper]
        # code -1 (no currency) picks the appended reporting rate
        rates: np.ndarray = np.array([*known, table[reporting]], dtype="float64")[codes]
        return rates

    def tier_of(self, amount_at_risk: pd.Series) -> pd.Series:
        """``high`` from ``high_amount``, ``medium`` from ``medium_amount``, else ``low``.

        Amounts in the reporting currency; a missing amount has no tier (NaN).
        """
        codes = self.tier_codes(amount_at_risk.astype("float64").to_numpy())
        return pd.Series(
            pd.Categorical.from_codes(codes, dtype=TIER_DTYPE), index=amount_at_risk.index
        )

    def tier_codes(self, amounts: np.ndarray) -> np.ndarray:
        """``tier_of`` as positions in ``RISK_TIERS`` (-1: no tier) of float64 amounts."""
        codes = np.where(
            amounts >= self.high_amount, 2, np.where(amounts >= self.medium_amount, 1, 0)
        )
        tier_codes: np.ndarray = np.where(np.isnan(amounts), -1, codes)
        return tier_codes


def to_reporting(
    amounts: pd.Series, currencies: pd.Series, reporting: str, rates: Mapping[str, float]
) -> pd.Series:
    """Amounts converted to ``reporting`` (rates: reporting units per 1 unit of a currency).

    A missing currency counts as the reporting one; a currency without a rate raises
    ``MissingRateError`` naming it, rather than adding unlike amounts.
    """
    factors = RiskTiers(reporting, rates).rates_for(currencies)
    if factors.isna().any():
        unknown = sorted(set(currencies[factors.isna()].astype(str).str.upper()))
        raise MissingRateError(
            f"no exchange rate to {reporting} for {', '.join(unknown)}; "
            f"set PAYRISK_FX_RATES, e.g. '{{\"{unknown[0]}\": 0.27}}'"
        )
    return amounts.astype("float64") * factors


@dataclass(frozen=True)
class CustomerTotals:
    """The roll-up's numbers per customer, in order of first appearance in the scored rows
    (see ``customer_rollup`` for each one), as arrays: what a per-request caller reads
    without building and sorting a frame."""

    customer_ids: pd.Index  # the distinct customer ids
    row_codes: np.ndarray  # per scored row, the position of its customer id (-1: none)
    open_invoices: np.ndarray
    open_amount: np.ndarray
    expected_amount_over_30: np.ndarray
    expected_share_over_30: np.ndarray
    max_p_over_30: np.ndarray
    amount_at_risk: np.ndarray


def customer_totals(scored: pd.DataFrame, tiers: RiskTiers | None = None) -> CustomerTotals:
    """The numbers of ``customer_rollup``, per customer in order of first appearance."""
    tiers = tiers or RiskTiers()
    missing = {"customer_id", "open_amount", "p_over_30"} - set(scored.columns)
    if missing:
        raise RollupInputError(f"the customer roll-up needs the columns {sorted(missing)}")
    open_amount = float_array(scored["open_amount"], na_value=0.0)
    p_over_30 = float_array(scored["p_over_30"])
    currencies = (
        scored["currency"] if "currency" in scored.columns else pd.Series(pd.NA, index=scored.index)
    )
    codes, customer_ids = pd.factorize(scored["customer_id"])  # first-seen order; NA: -1
    totals = _totals(codes, open_amount, p_over_30, tiers.rate_array(currencies))
    owed = totals["open_amount"]
    share = totals["expected_amount_over_30"] / np.where(owed > 0, owed, np.nan)
    return CustomerTotals(
        customer_ids=customer_ids,
        row_codes=codes,
        open_invoices=totals["open_invoices"],
        open_amount=owed,
        expected_amount_over_30=totals["expected_amount_over_30"],
        expected_share_over_30=np.where(np.isnan(share), totals["mean_p_over_30"], share),
        max_p_over_30=totals["max_p_over_30"],
        amount_at_risk=np.where(totals["unrated"] > 0, np.nan, totals["amount_at_risk"]),
    )


def customer_rollup(scored: pd.DataFrame, tiers: RiskTiers | None = None) -> pd.DataFrame:
    """Per customer, riskiest first: open amount, expected amount > 30 days late, tier.

    ``scored`` has one row per open invoice with ``customer_id``, ``open_amount``,
    ``p_over_30`` and (optional) ``currency``. Columns out: ``open_invoices``,
    ``open_amount`` and ``expected_amount_over_30`` (sums in the invoices' currencies:
    only meaningful for a customer with one currency), ``expected_share_over_30`` (that
    / open amount; the mean P(> 30) when nothing is open), ``max_p_over_30``,
    ``amount_at_risk`` (the expected amount > 30 days late in the reporting currency;
    NaN when a currency has no rate) and ``risk_tier`` (``RiskTiers.tier_of``). Riskiest
    first = by ``amount_at_risk`` (NaN last), then customer id.
    """
    tiers = tiers or RiskTiers()
    totals = customer_totals(scored, tiers)
    at_risk = totals.amount_at_risk
    rollup = pd.DataFrame(
        {
            "customer_id": totals.customer_ids,
            "open_invoices": totals.open_invoices,
            "open_amount": totals.open_amount,
            "expected_amount_over_30": totals.expected_amount_over_30,
            "max_p_over_30": totals.max_p_over_30,
            "amount_at_risk": at_risk,
            "expected_share_over_30": totals.expected_share_over_30,
            "risk_tier": tiers.tier_of(pd.Series(at_risk)),
        }
    )
    # riskiest first (NaN last), then by id: ``sort_values``' order, without its overhead
    by_id = np.argsort(totals.customer_ids.to_numpy(dtype=object), kind="stable").argsort()
    order = np.lexsort((by_id, -at_risk))
    return rollup.take(order).reset_index(drop=True)


def _exact_group_sums(codes: np.ndarray, values: np.ndarray, size: int) -> np.ndarray:
    """Per group code 0..size-1, the correctly rounded sum of its non-NaN values.

    ``math.fsum`` per group: the result depends on the group's values alone, not on their
    order nor on the other groups in the frame. pandas' compensated group sums do not
    (the same customer's rows summed to ...0.89 beside other customers and ...0.8900000001
    alone), and a live answer must equal the worklist's numbers to the last digit whether
    its customer was scored alone, in a micro-batch or in the whole-ledger refresh.
    """
    kept = ~np.isnan(values)
    codes, values = codes[kept], values[kept]
    order = np.argsort(codes, kind="stable")
    bounds = np.searchsorted(codes[order], np.arange(size + 1)).tolist()
    ordered = values[order].tolist()
    return np.array([math.fsum(ordered[bounds[k] : bounds[k + 1]]) for k in range(size)])


def _totals(
    codes: np.ndarray, amount: np.ndarray, p: np.ndarray, rates: np.ndarray
) -> dict[str, np.ndarray]:
    """Per group code 0..k-1 (rows coded -1 left out): the roll-up's sums, mean and max.

    Sums skip NaN, as pandas' do, and are exact (``_exact_group_sums``); the mean of P(> 30)
    is that sum over the count of known values (NaN when none).
    """
    kept = codes >= 0
    codes, amount, p, rates = codes[kept], amount[kept], p[kept], rates[kept]
    size = int(codes.max()) + 1 if len(codes) else 0
    sums = {
        "open_amount": amount,
        "expected_amount_over_30": amount * p,
        "amount_at_risk": amount * p * rates,
    }
    totals = {name: _exact_group_sums(codes, values, size) for name, values in sums.items()}
    known_p = np.bincount(codes, weights=~np.isnan(p), minlength=size)
    with np.errstate(invalid="ignore", divide="ignore"):
        totals["mean_p_over_30"] = _exact_group_sums(codes, p, size) / known_p
    totals["open_invoices"] = np.bincount(codes, minlength=size).astype("int64")
    totals["max_p_over_30"] = np.full(size, np.nan)
    np.fmax.at(totals["max_p_over_30"], codes, p)  # NaN only when all of a group's are NaN
    totals["unrated"] = np.bincount(codes, weights=np.isnan(rates), minlength=size)
    return totals
