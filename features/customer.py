"""The customer as of t: tenure, invoices so far, and static master data (segment,
industry, country, credit limit), which is allowed at any t."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.asof import NAT_DAY, EventTable, to_days
from features.context import Context, FeatureInputError, Points

MASTER_TEXT = ("segment", "industry", "country")


def customer_master(context: Context) -> pd.DataFrame:
    """The customers table aligned to the context's customer codes (missing rows empty)."""
    customers = context.ledger.customers
    repeated = customers["customer_id"][customers["customer_id"].duplicated()]
    if len(repeated):
        raise FeatureInputError(
            f"customer ids must be unique in the ledger; {repeated.iloc[0]!r} is repeated"
        )
    return customers.set_index("customer_id").reindex(context.customer_ids)


def credit_limits(master: pd.DataFrame) -> np.ndarray:
    """Credit limit per customer code, NaN where unknown."""
    return master["credit_limit"].to_numpy(np.float64, na_value=np.nan)


def _first_invoice_day(context: Context) -> np.ndarray:
    inv = context.invoices
    first = np.full(len(context.customer_ids), NAT_DAY, dtype=np.int64)
    known = inv.customer_code >= 0
    order = np.argsort(-inv.issue_day[known], kind="stable")
    # Writing latest first leaves each customer's earliest issue day in place.
    first[inv.customer_code[known][order]] = inv.issue_day[known][order]
    return first


def customer_features(
    context: Context, master: pd.DataFrame, points: Points
) -> dict[str, np.ndarray | pd.api.extensions.ExtensionArray]:
    """Per row: tenure and invoices so far at the row's day, and the customer's master data."""
    codes, day = points.customer_code, points.day
    created = to_days(master["created_date"])
    start_day = np.where(created == NAT_DAY, _first_invoice_day(context), created)[codes]
    issued = EventTable(context.invoices.customer_code, context.invoices.issue_day)
    invoices_so_far = issued.upto(codes, day) - issued.start(codes)
    text = {
        name: master[name].astype("string").reset_index(drop=True).array.take(codes)
        for name in MASTER_TEXT
    }
    return {
        "tenure_days": (day - start_day).astype(np.float64),
        "invoices_count": invoices_so_far.astype(np.float64),
        "credit_limit": credit_limits(master)[codes],
        **text,
    }
