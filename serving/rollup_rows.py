"""The per-customer rows of a scoring answer: ``ROLLUP_COLUMNS`` for the asked customers.

``models.rollup.customer_totals`` gives the numbers of the customers with something open;
this puts them in the asked order, fills zeros (tier ``low``) for a customer with nothing
open, and adds each customer's currency and the row of its riskiest invoice. Built from
numpy arrays and one ``factorize``: it runs for every stored-mode cache miss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from features.columns import STRING
from models.rollup import RISK_TIERS, CustomerTotals, RiskTiers, customer_totals

ROLLUP_COLUMNS = (
    "customer_id",
    "currency",
    "open_invoices",
    "open_amount",
    "expected_amount_over_30",
    "expected_share_over_30",
    "max_p_over_30",
    "amount_at_risk",
    "reporting_currency",
    "risk_tier",
)


def _first_rows_and_currency(
    invoices: pd.DataFrame, totals: CustomerTotals, found: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Per asked customer (``found``: its position in ``totals``, -1 when none): its first
    row in ``invoices`` (-1 when none) and the currency of its invoices (None when none,
    or when they mix currencies or lack one)."""
    codes = totals.row_codes
    known = codes >= 0
    first_rows = np.flatnonzero(known)[np.unique(codes[known], return_index=True)[1]]
    # a missing currency counts as one more value, so "EUR and none" is mixed too
    currency_codes = pd.factorize(invoices["currency"], use_na_sentinel=False)[0]
    differs = currency_codes[known] != currency_codes[first_rows][codes[known]]
    mixed = np.bincount(codes[known], weights=differs, minlength=len(totals.customer_ids)) > 0
    currencies = invoices["currency"].to_numpy(dtype=object)[first_rows]
    # an id not found (-1) picks the appended "none"
    first: np.ndarray = np.append(first_rows, -1)[found].astype("int64")
    none = np.array([None], dtype=object)
    currency: np.ndarray = np.concatenate([np.where(mixed, None, currencies), none])[found]
    return first, currency


# per tier code (-1: no tier, the last entry)
_TIER_NAMES = np.array([*RISK_TIERS, None], dtype=object)


def rollup_customers(
    invoices: pd.DataFrame, customer_ids: Sequence[str], tiers: RiskTiers | None = None
) -> pd.DataFrame:
    """``ROLLUP_COLUMNS`` + ``reasons_row`` per asked customer, in the asked order.

    ``invoices``: scored open invoices, riskiest first (so a customer's first row is its
    riskiest invoice). ``tiers``: the tier thresholds and exchange rates (default
    ``RiskTiers()``); a customer with a currency without a rate has NaN
    ``amount_at_risk`` and no tier.
    """
    tiers = tiers or RiskTiers()
    totals = customer_totals(invoices, tiers)
    asked = np.asarray(customer_ids, dtype=object)
    found = pd.Index(totals.customer_ids.to_numpy(dtype=object)).get_indexer(asked)
    has_open = found >= 0

    def column(values: np.ndarray) -> np.ndarray:
        values = values.astype("float64")
        picked = values[np.maximum(found, 0)] if len(values) else np.zeros(len(asked))
        return np.where(has_open, picked, 0.0)

    first, currency = _first_rows_and_currency(invoices, totals, found)
    amount_at_risk = column(totals.amount_at_risk)
    return pd.DataFrame(
        {
            "customer_id": pd.array(asked, dtype=STRING),
            "currency": pd.array(currency, dtype=STRING),
            "open_invoices": column(totals.open_invoices).astype("int64"),
            "open_amount": column(totals.open_amount),
            "expected_amount_over_30": column(totals.expected_amount_over_30),
            "expected_share_over_30": column(totals.expected_share_over_30),
            "max_p_over_30": column(totals.max_p_over_30),
            "amount_at_risk": amount_at_risk,
            "reporting_currency": pd.array([tiers.reporting_currency] * len(asked), dtype=STRING),
            "risk_tier": pd.array(_TIER_NAMES[tiers.tier_codes(amount_at_risk)], dtype=STRING),
            "reasons_row": first,
        }
    )
