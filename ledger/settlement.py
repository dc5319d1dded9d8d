"""When an invoice was settled: its own ``paid_date``, or the payment that covered it.

DESIGN.md: an invoice with payments but no ``paid_date`` is settled when its payments
cover its amount. The settled date is a fact dated by the covering payment, so using it
"as of t" is point-in-time safe as long as callers compare it with t.
"""

from __future__ import annotations

import pandas as pd

# Cents-level rounding in source systems: a payment within this of the amount covers it.
COVER_TOLERANCE_AMOUNT = 0.01


def covering_payment_dates(invoices: pd.DataFrame, payments: pd.DataFrame) -> pd.Series:
    """Per invoice (indexed like ``invoices``), the date its applied payments first cover it.

    NaT where applied payments never reach the amount, or there are none.
    """
    applied = payments.loc[payments["invoice_id"].notna(), ["invoice_id", "payment_date", "amount"]]
    if applied.empty:
        return pd.Series(pd.NaT, index=invoices.index, dtype="datetime64[ns]")
    applied = applied.sort_values(["invoice_id", "payment_date"], kind="stable")
    applied = applied.assign(paid_so_far=applied.groupby("invoice_id")["amount"].cumsum())
    due = invoices.set_index("invoice_id")["amount"]
    invoice_amount = applied["invoice_id"].map(due)
    covered = applied[applied["paid_so_far"] >= invoice_amount - COVER_TOLERANCE_AMOUNT]
    first_cover = covered.groupby("invoice_id")["payment_date"].min()
    dates = first_cover.reindex(invoices["invoice_id"].to_numpy()).to_numpy(dtype="datetime64[ns]")
    return pd.Series(dates, index=invoices.index, dtype="datetime64[ns]")


def settled_dates(invoices: pd.DataFrame, payments: pd.DataFrame) -> pd.Series:
    """Per invoice, ``paid_date`` if given, else the date its payments covered it (or NaT)."""
    return invoices["paid_date"].fillna(covering_payment_dates(invoices, payments))


def with_settled_dates(invoices: pd.DataFrame, payments: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``invoices`` whose ``paid_date`` is filled in from covering payments."""
    return invoices.assign(paid_date=settled_dates(invoices, payments))
