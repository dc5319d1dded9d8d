"""The customer as of t: tenure, invoices so far, and static master data (segment,
industry, country, credit limit), which is allowed at any t."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from features.asof import NAT_DAY, to_days
from features.columns import float_array, string_array
from features.context import Context, FeatureInputError, Points

MASTER_TEXT = ("segment", "industry", "country")


@dataclass(frozen=True)
class CustomerMaster:
    """The customers table seen per customer code: ``row`` is each code's row (-1: none).

    Lookups go through ``row`` instead of a re-indexed copy of the table: a one-customer
    call would spend more time re-indexing than computing its features.
    """

    customers: pd.DataFrame
    row: np.ndarray
    # Credit limit per customer code, NaN where unknown (position and customer families
    # both read it; built at construction, see ``features.payments.EffectivePayments``).
    credit_limit: np.ndarray = field(init=False, repr=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "credit_limit", self.numbers("credit_limit"))

    def numbers(self, column: str) -> np.ndarray:
        """``column`` as float64 per customer code, NaN where unknown."""
        values = float_array(self.customers[column])
        return np.append(values, np.nan)[self.row]  # row -1 picks the appended NaN

    def days(self, column: str) -> np.ndarray:
        """Date ``column`` as day numbers per customer code, ``NAT_DAY`` where unknown."""
        return np.append(to_days(self.customers[column]), NAT_DAY)[self.row]

    def texts(self, column: str, codes: np.ndarray) -> ExtensionArray:
        """Text ``column`` (pandas string) for each of ``codes``, missing where unknown."""
        return string_array(self.customers[column]).take(self.row[codes], allow_fill=True)


def customer_master(context: Context) -> CustomerMaster:
    """The customers table aligned to the context's customer codes (missing rows empty)."""
    customers = context.ledger.customers
    codes = context.table_customer_codes["customers"]  # -1: a row without an id
    if len(np.unique(codes)) < len(codes):
        repeated = customers["customer_id"][customers["customer_id"].duplicated()]
        raise FeatureInputError(
            f"customer ids must be unique in the ledger; {repeated.iloc[0]!r} is repeated"
        )
    row = np.full(len(context.customer_ids), -1, dtype=np.int64)
    known = codes >= 0
    row[codes[known]] = np.flatnonzero(known)
    return CustomerMaster(customers, row)


def credit_limits(master: CustomerMaster) -> np.ndarray:
    """Credit limit per customer code, NaN where unknown."""
    return master.credit_limit


def _first_invoice_day(context: Context) -> np.ndarray:
    inv = context.invoices
    first = np.full(len(context.customer_ids), NAT_DAY, dtype=np.int64)
    known = inv.customer_code >= 0
    order = np.argsort(-inv.issue_day[known], kind="stable")
    # Writing latest first leaves each customer's earliest issue day in place.
    first[inv.customer_code[known][order]] = inv.issue_day[known][order]
    return first


def customer_features(
    context: Context, master: CustomerMaster, points: Points
) -> dict[str, np.ndarray | ExtensionArray]:
    """Per row: tenure and invoices so far at the row's day, and the customer's master data."""
    codes, day = points.customer_code, points.day
    created = master.days("created_date")
    start_day = np.where(created == NAT_DAY, _first_invoice_day(context), created)[codes]
    issued = context.issued
    invoices_so_far = issued.upto(codes, day) - issued.start(codes)
    return {
        "tenure_days": (day - start_day).astype(np.float64),
        "invoices_count": invoices_so_far.astype(np.float64),
        "credit_limit": credit_limits(master)[codes],
        **{name: master.texts(name, codes) for name in MASTER_TEXT},
    }
