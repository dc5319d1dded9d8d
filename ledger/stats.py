"""What a ledger looks like, as of a date: counts, open and late amounts, risk spread, stress.

Pure: a ``Ledger`` in, a ``LedgerStats`` out. Facts dated after ``as_of`` are ignored
(an invoice paid later counts as open). Works on an invoices-only ledger: settlement
comes from ``settled_dates`` and, without payments, each settled invoice stands for one
payment of its amount on its settled date.

Amounts are never added across currencies: the ``all`` row of ``summary`` has amounts
only when the ledger has one currency.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ledger.frames import Ledger
from ledger.settlement import settled_dates

ALL = "all"
UNKNOWN_CURRENCY = "unknown"
MIN_PAID_FOR_RATE = 5  # customers with fewer paid invoices get no late rate
STRESS_WINDOW_MONTHS = 3  # ~90 days, in whole calendar months
STRESS_PAYMENT_DROP = 0.5  # payments in a window fell to at most half the previous one's
STRESS_MIN_PREVIOUS_PAYMENTS = 5  # ... which had at least this many payments
STRESS_MIN_RISE_DAYS = 15.0  # and days late rose by at least this much
SUMMARY_COLUMNS = (
    "customers",
    "invoices",
    "paid",
    "open_count",
    "open_amount",
    "late_share_count",
    "late_share_amount",
    "rated_customers",
    "late_rate_p10",
    "late_rate_p50",
    "late_rate_p90",
    "stressed_customers",
)


@dataclass(frozen=True)
class LedgerStats:
    """A ledger's statistics as of ``as_of``; ``summary`` has one row per currency + ``all``."""

    as_of: pd.Timestamp | None
    row_counts: dict[str, int]
    first_date: pd.Timestamp | None
    last_date: pd.Timestamp | None
    summary: pd.DataFrame
    stressed_customer_ids: tuple[str, ...]

    @property
    def overall(self) -> pd.Series:
        """The ``all`` row of the summary."""
        return self.summary.loc[ALL]


def ledger_stats(ledger: Ledger, as_of: date | pd.Timestamp | None = None) -> LedgerStats:
    """Statistics of ``ledger`` using only facts dated on or before ``as_of``.

    ``as_of`` defaults to the ledger's last date. Late = settled after the due date
    (days late > 0), counted among invoices settled by ``as_of``.
    """
    cutoff = pd.Timestamp(as_of) if as_of is not None else _last_date(ledger)
    row_counts = {name: len(frame) for name, frame in ledger.tables().items()}
    if cutoff is None or pd.isna(cutoff):
        empty = pd.DataFrame(columns=list(SUMMARY_COLUMNS), index=pd.Index([ALL]))
        return LedgerStats(None, row_counts, None, None, empty, ())
    invoices = invoice_positions(ledger, cutoff)
    payments = _payments_until(ledger, invoices, cutoff)
    stressed = stressed_customers(invoices, payments, cutoff)
    currencies = sorted(invoices["currency"].unique())
    rows = {ALL: _summary_row(invoices, stressed, with_amounts=len(currencies) <= 1)}
    for currency in currencies:
        subset = invoices[invoices["currency"] == currency]
        rows[currency] = _summary_row(subset, stressed, with_amounts=True)
    summary = pd.DataFrame.from_dict(rows, orient="index").reindex(columns=list(SUMMARY_COLUMNS))
    first_date = _first_date(ledger, cutoff)
    return LedgerStats(cutoff, row_counts, first_date, cutoff, summary, tuple(sorted(stressed)))


def invoice_positions(ledger: Ledger, as_of: pd.Timestamp) -> pd.DataFrame:
    """Invoices issued by ``as_of`` with their state then: settled, open balance, days late.

    Columns: customer_id, currency, amount, due_date, settled_date (NaT if open at
    ``as_of``), is_open, open_amount (amount less payments applied by ``as_of``),
    days_late (settled invoices only).
    """
    invoices = ledger.invoices
    payments = ledger.payments[ledger.payments["payment_date"] <= as_of]
    settled = settled_dates(invoices, payments)
    settled = settled.where(settled <= as_of)
    paid_so_far = payments.groupby("invoice_id")["amount"].sum()
    applied = invoices["invoice_id"].map(paid_so_far).astype(float).fillna(0.0)
    customer_currency = ledger.customers.set_index("customer_id")["currency"]
    from_customer = invoices["customer_id"].map(customer_currency).astype("string")
    currency = invoices["currency"].fillna(from_customer)
    frame = pd.DataFrame(
        {
            "customer_id": invoices["customer_id"],
            "currency": currency.fillna(UNKNOWN_CURRENCY).astype(str),
            "amount": invoices["amount"],
            "issue_date": invoices["issue_date"],
            "due_date": invoices["due_date"],
            "settled_date": settled,
            "is_open": settled.isna(),
            "open_amount": (invoices["amount"] - applied).clip(lower=0.0).where(settled.isna(), 0),
            "days_late": (settled - invoices["due_date"]).dt.days,
        }
    )
    return frame[frame["issue_date"] <= as_of].reset_index(drop=True)


def stressed_customers(
    invoices: pd.DataFrame, payments: pd.DataFrame, as_of: pd.Timestamp
) -> set[str]:
    """Customers whose payments in some 3-month window fell by >= 50% while days late rose.

    ``invoices`` as from ``invoice_positions``. A window ends on a month end on or before
    ``as_of`` and is compared with the 3 months before it: the sum of payments fell to at
    most ``STRESS_PAYMENT_DROP`` of the earlier window's (which had at least
    ``STRESS_MIN_PREVIOUS_PAYMENTS`` payments, so one missing cheque is no signal), and
    the mean days late of the invoices due in the window, measured at its end (open ones
    count their days overdue), rose by at least ``STRESS_MIN_RISE_DAYS``. Only facts
    known at each window's end are used, so a flag is point-in-time.
    """
    if invoices.empty:
        return set()
    all_ids = np.concatenate(
        [invoices["customer_id"].to_numpy(str), payments["customer_id"].to_numpy(str)]
    )
    customers, codes = np.unique(all_ids, return_inverse=True)
    first_month = min(
        _month(invoices["issue_date"].min()),
        _months(payments["payment_date"]).min(initial=_month(as_of)),
    )
    last_month = _month(as_of) - (0 if _is_month_end(as_of) else 1)
    months = last_month - first_month + 1
    if months < 2 * STRESS_WINDOW_MONTHS:
        return set()
    invoice_codes, payment_codes = codes[: len(invoices)], codes[len(invoices) :]
    paid, count = _monthly_payments(payments, payment_codes, first_month, months, len(customers))
    late_sum, late_count = _window_lateness(
        invoices, invoice_codes, first_month, months, len(customers)
    )
    flagged = _flag_windows(_rolling(paid), _rolling(count), late_sum, late_count)
    return set(customers[flagged].tolist())


def _flag_windows(
    paid_window: np.ndarray,
    count_window: np.ndarray,
    late_sum: np.ndarray,
    late_count: np.ndarray,
) -> np.ndarray:
    """Per customer: whether any window shows the drop and the rise against the one before."""
    mean_late = np.divide(
        late_sum, late_count, out=np.full(late_sum.shape, np.nan), where=late_count > 0
    )
    lag = STRESS_WINDOW_MONTHS
    fell = (count_window[:, :-lag] >= STRESS_MIN_PREVIOUS_PAYMENTS) & (
        paid_window[:, lag:] <= STRESS_PAYMENT_DROP * paid_window[:, :-lag]
    )
    rose = mean_late[:, lag:] >= mean_late[:, :-lag] + STRESS_MIN_RISE_DAYS
    # the earlier window must be complete: it starts at or after the first month
    complete = np.arange(paid_window.shape[1] - lag) >= STRESS_WINDOW_MONTHS - 1
    flags: np.ndarray = (fell & rose & complete[None, :]).any(axis=1)
    return flags


def _summary_row(
    invoices: pd.DataFrame, stressed: set[str], with_amounts: bool
) -> dict[str, float]:
    paid = invoices[~invoices["is_open"]]
    late = paid["days_late"] > 0
    per_customer = late.groupby(paid["customer_id"]).agg(["mean", "size"])
    rated = per_customer.loc[per_customer["size"] >= MIN_PAID_FOR_RATE, "mean"]
    p10, p50, p90 = rated.quantile([0.1, 0.5, 0.9]).tolist() if len(rated) else [np.nan] * 3
    paid_amount = paid["amount"].sum()
    late_amount_share = paid.loc[late, "amount"].sum() / paid_amount if paid_amount else np.nan
    customer_ids = set(invoices["customer_id"].astype(str))
    return {
        "customers": len(customer_ids),
        "invoices": len(invoices),
        "paid": len(paid),
        "open_count": int(invoices["is_open"].sum()),
        "open_amount": round(float(invoices["open_amount"].sum()), 2) if with_amounts else np.nan,
        "late_share_count": float(late.mean()) if len(paid) else np.nan,
        "late_share_amount": float(late_amount_share) if with_amounts else np.nan,
        "rated_customers": len(rated),
        "late_rate_p10": p10,
        "late_rate_p50": p50,
        "late_rate_p90": p90,
        "stressed_customers": len(customer_ids & stressed),
    }


def _payments_until(ledger: Ledger, invoices: pd.DataFrame, as_of: pd.Timestamp) -> pd.DataFrame:
    """Payments dated by ``as_of``; without a payments table, one per settled invoice."""
    if len(ledger.payments):
        payments = ledger.payments[ledger.payments["payment_date"] <= as_of]
        return payments[["customer_id", "payment_date", "amount"]].reset_index(drop=True)
    settled = invoices[~invoices["is_open"]]
    return pd.DataFrame(
        {
            "customer_id": settled["customer_id"],
            "payment_date": settled["settled_date"],
            "amount": settled["amount"],
        }
    ).reset_index(drop=True)


def _monthly_payments(
    payments: pd.DataFrame, codes: np.ndarray, first_month: int, months: int, customers: int
) -> tuple[np.ndarray, np.ndarray]:
    month = _months(payments["payment_date"]) - first_month
    keep = (month >= 0) & (month < months)
    cell = codes[keep] * months + month[keep]
    amount = payments["amount"].to_numpy(float)[keep]
    size = customers * months
    paid = np.bincount(cell, amount, minlength=size).reshape(customers, months)
    count = np.bincount(cell, minlength=size).reshape(customers, months)
    return paid, count


def _window_lateness(
    invoices: pd.DataFrame, codes: np.ndarray, first_month: int, months: int, customers: int
) -> tuple[np.ndarray, np.ndarray]:
    """Sum and count, per (customer, window end month), of days late measured at the end."""
    due_month = _months(invoices["due_date"]) - first_month
    due_day = _days(invoices["due_date"])
    settled = invoices["settled_date"]
    settled_day = np.where(
        settled.isna(), np.iinfo(np.int64).max // 2, _days(settled.fillna(pd.Timestamp(0)))
    )
    size = customers * months
    late_sum = np.zeros(size)
    late_count = np.zeros(size)
    for offset in range(STRESS_WINDOW_MONTHS):  # each invoice is in 3 windows
        end_month = due_month + offset
        keep = end_month < months
        end_day = _days(_month_end(end_month[keep] + first_month))
        measured = np.clip(np.minimum(settled_day[keep], end_day) - due_day[keep], 0, None)
        cell = codes[keep] * months + end_month[keep]
        late_sum += np.bincount(cell, measured, minlength=size)
        late_count += np.bincount(cell, minlength=size)
    return late_sum.reshape(customers, months), late_count.reshape(customers, months)


def _rolling(monthly: np.ndarray) -> np.ndarray:
    """Sum over each window of STRESS_WINDOW_MONTHS months ending at each month."""
    cumulative = np.cumsum(monthly, axis=1, dtype=float)
    shifted = np.zeros_like(cumulative)
    shifted[:, STRESS_WINDOW_MONTHS:] = cumulative[:, :-STRESS_WINDOW_MONTHS]
    return cumulative - shifted


def _months(dates: pd.Series) -> np.ndarray:
    return dates.to_numpy("datetime64[ns]").astype("datetime64[M]").astype(np.int64)


def _days(dates: pd.Series | np.ndarray) -> np.ndarray:
    return np.asarray(dates, dtype="datetime64[ns]").astype("datetime64[D]").astype(np.int64)


def _month(timestamp: pd.Timestamp) -> int:
    return int(np.datetime64(timestamp, "M").astype(np.int64))


def _month_end(months: np.ndarray) -> np.ndarray:
    return (months + 1).astype("datetime64[M]").astype("datetime64[D]") - np.timedelta64(1, "D")


def _is_month_end(timestamp: pd.Timestamp) -> bool:
    return bool(timestamp.is_month_end)


def _last_date(ledger: Ledger) -> pd.Timestamp | None:
    dates = [
        ledger.invoices["issue_date"].max(),
        ledger.invoices["paid_date"].max(),
        ledger.payments["payment_date"].max(),
    ]
    known = [value for value in dates if not pd.isna(value)]
    return max(known) if known else None


def _first_date(ledger: Ledger, as_of: pd.Timestamp) -> pd.Timestamp | None:
    first = ledger.invoices["issue_date"].min()
    return None if pd.isna(first) or first > as_of else first
