"""The ledger and the requested rows as NumPy arrays: customer codes, day numbers, amounts.

Built once per ``build_features`` call and shared by every feature family, so each
family works on plain arrays and never re-parses a DataFrame.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from pandas.api.extensions import ExtensionArray

from features.asof import FAR_DAY, NAT_DAY, EventTable, to_days
from features.columns import encode_strings, float_array, has_repeats, positions_in, string_array
from ledger.errors import PayriskError
from ledger.frames import Ledger
from ledger.settlement import COVER_TOLERANCE_AMOUNT, settled_dates


class FeatureInputError(PayriskError):
    """The ledger or the rows given to ``build_features`` cannot be used as they are."""


def require_days(table: str, column: str, days: np.ndarray) -> np.ndarray:
    """``days`` unchanged, or an error naming the first row whose date is missing."""
    missing = np.flatnonzero(days == NAT_DAY)
    if len(missing):
        raise FeatureInputError(
            f"{table}.{column} is required, but {len(missing)} row(s) have none "
            f"(first at row {int(missing[0])})"
        )
    return days


@dataclass(frozen=True)
class InvoiceArrays:
    """One entry per ledger invoice, in the ledger's order."""

    customer_code: np.ndarray
    issue_day: np.ndarray
    due_day: np.ndarray
    settle_day: np.ndarray  # FAR_DAY while never settled
    amount: np.ndarray
    paid_before_settle: np.ndarray  # applied payments dated before the settle day
    paid_by_due: np.ndarray  # applied payments dated <= due (and before settling)
    paid_through_settle: np.ndarray  # applied payments dated <= the settle day


@dataclass(frozen=True)
class PaymentArrays:
    """One entry per ledger payment; ``invoice_pos`` is -1 when unapplied or unknown."""

    customer_code: np.ndarray
    day: np.ndarray
    amount: np.ndarray
    invoice_pos: np.ndarray


@dataclass(frozen=True)
class Points:
    """The requested rows: which invoice (position in the ledger) as of which day."""

    invoice_pos: np.ndarray
    customer_code: np.ndarray
    day: np.ndarray


@dataclass(frozen=True)
class Context:
    """Everything the feature families need, derived from one ledger."""

    ledger: Ledger
    customer_ids: ExtensionArray  # pandas string, unique
    invoice_ids: ExtensionArray  # pandas string, unique, the ledger's invoice order
    invoices: InvoiceArrays
    payments: PaymentArrays
    # Per table name ("customers", "activities", ...), each row's customer code.
    table_customer_codes: dict[str, np.ndarray]
    # Invoices as events on their issue day, per customer (invoice and customer families
    # both read it; built at construction, see ``features.payments.EffectivePayments``).
    issued: EventTable = field(init=False, repr=False)

    def __post_init__(self) -> None:
        table = EventTable(self.invoices.customer_code, self.invoices.issue_day)
        object.__setattr__(self, "issued", table)  # frozen: set once, at construction

    def invoice_positions(self, ids: pd.Series) -> np.ndarray:
        return positions_in(ids, self.invoice_ids)


def _applied_sums(
    invoices: pd.DataFrame, payments: PaymentArrays, settle_day: np.ndarray, due_day: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per invoice: applied payments dated before settling, by the due date, through settling."""
    applied = payments.invoice_pos >= 0
    inv = payments.invoice_pos[applied]
    day = payments.day[applied]
    amount = payments.amount[applied]
    before_settle = day < settle_day[inv]
    masks = (before_settle, before_settle & (day <= due_day[inv]), day <= settle_day[inv])
    return tuple(  # type: ignore[return-value]
        np.bincount(inv, weights=np.where(mask, amount, 0.0), minlength=len(invoices))
        for mask in masks
    )


def _settled_dates(
    invoices: pd.DataFrame, payments: pd.DataFrame, arrays: PaymentArrays, amounts: np.ndarray
) -> pd.Series:
    """``ledger.settlement.settled_dates``, short-cut when no invoice without a paid date
    has applied payments reaching its amount: then only paid dates settle, and the
    covering dates (a dozen pandas steps, most of a one-customer call) are not needed
    (also, ``settled_dates`` currently fails on pandas 3 mapping through an empty cover
    table)."""
    applied = arrays.invoice_pos >= 0
    totals = np.bincount(
        arrays.invoice_pos[applied], weights=arrays.amount[applied], minlength=len(invoices)
    )
    paid_dates = invoices["paid_date"]
    undated = to_days(paid_dates) == NAT_DAY
    if not ((totals >= amounts - COVER_TOLERANCE_AMOUNT) & undated).any():
        return paid_dates
    return settled_dates(invoices, payments)


def _customer_codes(ledger: Ledger) -> tuple[ExtensionArray, dict[str, np.ndarray]]:
    """Every customer id in any table, each once (the meaning of a customer code), and
    each table's rows as customer codes."""
    tables = ledger.tables()
    ids, codes = encode_strings([table["customer_id"] for table in tables.values()])
    return ids, dict(zip(tables, codes, strict=True))


def build_context(ledger: Ledger) -> Context:
    """Arrays of the ledger; an invoice's settle day is ``ledger.settlement.settled_dates``."""
    invoices, payments = ledger.invoices, ledger.payments
    customer_ids, table_customer_codes = _customer_codes(ledger)
    invoice_ids = string_array(invoices["invoice_id"])
    if has_repeats(invoice_ids):
        ids = pd.Index(invoice_ids)
        duplicated = ids[ids.duplicated()].unique()[:5].tolist()
        raise FeatureInputError(f"invoice ids must be unique in the ledger; repeated: {duplicated}")
    payment_arrays = PaymentArrays(
        customer_code=table_customer_codes["payments"],
        day=require_days("payments", "payment_date", to_days(payments["payment_date"])),
        amount=float_array(payments["amount"], na_value=0.0),
        invoice_pos=positions_in(payments["invoice_id"], invoice_ids),
    )
    issue_day = require_days("invoices", "issue_date", to_days(invoices["issue_date"]))
    amount = invoices["amount"].to_numpy(np.float64)
    settle_day = to_days(_settled_dates(invoices, payments, payment_arrays, amount))
    settle_day = np.where(settle_day == NAT_DAY, FAR_DAY, np.maximum(settle_day, issue_day))
    due_day = require_days("invoices", "due_date", to_days(invoices["due_date"]))
    paid_before_settle, paid_by_due, paid_through_settle = _applied_sums(
        invoices, payment_arrays, settle_day, due_day
    )
    invoice_arrays = InvoiceArrays(
        customer_code=table_customer_codes["invoices"],
        issue_day=issue_day,
        due_day=due_day,
        settle_day=settle_day,
        amount=amount,
        paid_before_settle=paid_before_settle,
        paid_by_due=paid_by_due,
        paid_through_settle=paid_through_settle,
    )
    return Context(
        ledger, customer_ids, invoice_ids, invoice_arrays, payment_arrays, table_customer_codes
    )


def build_points(context: Context, rows: pd.DataFrame) -> Points:
    """Validate the rows (known invoice, as_of present and >= issue date) as arrays."""
    missing = [name for name in ("invoice_id", "as_of") if name not in rows.columns]
    if missing:
        raise FeatureInputError(f"rows need columns invoice_id and as_of; missing {missing}")
    invoice_ids = rows["invoice_id"]
    invoice_pos = context.invoice_positions(invoice_ids)
    if (invoice_pos < 0).any():
        unknown = invoice_ids[invoice_pos < 0]
        raise FeatureInputError(
            f"{len(unknown)} row(s) name invoices not in the ledger, e.g. {unknown.iloc[0]!r}"
        )
    day = to_days(rows["as_of"])
    if (day == NAT_DAY).any():
        raise FeatureInputError(f"{int((day == NAT_DAY).sum())} row(s) have no as_of date")
    early = day < context.invoices.issue_day[invoice_pos]
    if early.any():
        first = int(np.flatnonzero(early)[0])
        raise FeatureInputError(
            f"row {first}: as_of {rows['as_of'].iloc[first]} is before the issue date of "
            f"invoice {rows['invoice_id'].iloc[first]!r}; features exist only from issue on"
        )
    return Points(invoice_pos, context.invoices.customer_code[invoice_pos], day)
