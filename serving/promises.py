"""Promises to pay as of t: active, kept or broken, for the worklist and the policy.

A promise is an activity of kind ``promise`` with a ``promised_date`` (and usually a
``promised_amount`` and an ``invoice_id``), known from its activity ``date`` on. At t:

- **kept** when the payments dated from the day it was made through the promised date
  cover the promised amount: payments to its invoice if it names one (or that invoice
  settled by the promised date), else any payment of the customer. Without an amount, any
  payment in that span keeps it. Payments dated after t are never seen.
- **broken** when it is not kept and its promised date is before t;
- **active** when it is not kept and its promised date is on or after t (a dunning block
  until that date).

The same definition as ``features/activities.py`` (which only exposes it on arrays, inside
the feature context), including the "implied" payment of an invoice settled by its
``paid_date`` with less applied to it, so an invoices-only ledger works.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ledger.frames import Ledger
from ledger.settlement import COVER_TOLERANCE_AMOUNT, settled_dates

PROMISE_KIND = "promise"
STATUS_KEPT, STATUS_BROKEN, STATUS_ACTIVE = "kept", "broken", "active"
PROMISE_COLUMNS = (
    "activity_id",
    "customer_id",
    "invoice_id",
    "made_date",
    "promised_date",
    "promised_amount",
    "paid_amount",
    "status",
)


def effective_payments(
    ledger: Ledger, as_of: pd.Timestamp, settled: pd.Series | None = None
) -> pd.DataFrame:
    """Payments dated <= ``as_of``, plus the implied rest of invoices settled by then.

    Columns: customer_id, invoice_id, payment_date, amount. ``settled``: the invoices'
    ``settled_dates``, when the caller has them already.
    """
    payments = ledger.payments.loc[
        ledger.payments["payment_date"] <= as_of,
        ["customer_id", "invoice_id", "payment_date", "amount"],
    ]
    invoices = ledger.invoices
    if settled is None:
        settled = settled_dates(invoices, ledger.payments)
    applied = payments.loc[payments["invoice_id"].notna()]
    applied_total = applied.groupby("invoice_id")["amount"].sum()
    applied_amount = invoices["invoice_id"].map(applied_total).astype("float64").fillna(0.0)
    rest_amount = invoices["amount"] - applied_amount
    implied = (settled <= as_of) & (rest_amount.to_numpy() > COVER_TOLERANCE_AMOUNT)
    implied_rows = pd.DataFrame(
        {
            "customer_id": invoices.loc[implied, "customer_id"],
            "invoice_id": invoices.loc[implied, "invoice_id"],
            "payment_date": settled[implied],
            "amount": rest_amount[implied],
        }
    )
    return pd.concat([payments, implied_rows], ignore_index=True)


def _pairs(left_keys: pd.Series, right_keys: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """Positions (left, right) of the rows with equal keys, as an inner merge lists them.

    Left rows in order, each with its matches in the right rows' order; a missing key
    matches nothing. Arrays, not a merge: a one-customer slice pays merge's fixed cost.
    """
    right_codes, uniques = pd.factorize(right_keys.to_numpy(dtype=object))
    left_codes = pd.Index(uniques, dtype=object).get_indexer(left_keys.to_numpy(dtype=object))
    order = np.argsort(right_codes, kind="stable")
    sorted_codes = right_codes[order]
    starts = np.searchsorted(sorted_codes, left_codes, side="left")
    counts = np.where(
        left_codes >= 0, np.searchsorted(sorted_codes, left_codes, side="right") - starts, 0
    )
    left = np.repeat(np.arange(len(left_codes)), counts)
    within = np.arange(len(left)) - np.repeat(np.cumsum(counts) - counts, counts)
    return left, order[np.repeat(starts, counts) + within]


def _paid_in_span(promises: pd.DataFrame, payments: pd.DataFrame, end: pd.Series) -> pd.Series:
    """Per promise, the amount paid dated in [made_date, end]: to its invoice if it names
    one, else by its customer. Summed as ``groupby.sum`` does, in the payments' order."""
    names_invoice = promises["invoice_id"].notna().to_numpy()
    by_invoice = _pairs(promises["invoice_id"].where(names_invoice, None), payments["invoice_id"])
    by_customer = _pairs(
        promises["customer_id"].where(~names_invoice, None), payments["customer_id"]
    )
    promise_of, payment_of = (
        np.concatenate(pair) for pair in zip(by_invoice, by_customer, strict=True)
    )
    paid_on = payments["payment_date"].to_numpy(dtype="datetime64[ns]")[payment_of]
    made = promises["made_date"].to_numpy(dtype="datetime64[ns]")[promise_of]
    in_span = (paid_on >= made) & (paid_on <= end.to_numpy(dtype="datetime64[ns]")[promise_of])
    amounts = payments["amount"].to_numpy(dtype="float64")[payment_of[in_span]]
    paid = pd.Series(amounts).groupby(promise_of[in_span]).sum()
    return pd.Series(
        paid.reindex(np.arange(len(promises)), fill_value=0.0).to_numpy(dtype="float64"),
        index=promises.index,
    )


def promise_status(
    ledger: Ledger, as_of: pd.Timestamp | str, settled: pd.Series | None = None
) -> pd.DataFrame:
    """Every promise made on or before ``as_of`` with its status at ``as_of`` (t).

    Columns: ``PROMISE_COLUMNS``; ``paid_amount`` is what counted towards the promise.
    Promises without a promised date are left out (there is nothing to keep or break).
    ``settled``: the invoices' ``settled_dates``, when the caller has them already.
    """
    as_of = pd.Timestamp(as_of).normalize()
    activities = ledger.activities
    chosen = _promises_made(activities) & (activities["date"] <= as_of)
    promises = activities.loc[chosen].rename(columns={"date": "made_date"})
    promises = promises[list(PROMISE_COLUMNS[:6])].reset_index(drop=True)
    # Seen from t, a payment after t has not happened yet.
    span_end = promises["promised_date"].where(promises["promised_date"] <= as_of, as_of)
    span_end = span_end.clip(lower=promises["made_date"])
    if settled is None:
        settled = settled_dates(ledger.invoices, ledger.payments)
    payments = effective_payments(ledger, as_of, settled)
    names_invoice = promises["invoice_id"].notna()
    paid = _paid_in_span(promises, payments, span_end)
    by_id = pd.Series(
        settled.to_numpy(dtype="datetime64[ns]"),
        index=ledger.invoices["invoice_id"].astype(object).to_numpy(),
    )
    # reindex, not map: map turns an empty mapping into floats (no invoices at all)
    named = promises["invoice_id"].astype(object).where(names_invoice, None).to_numpy()
    named_settled = pd.Series(by_id.reindex(named).to_numpy(), index=promises.index)
    invoice_settled = names_invoice & (named_settled <= span_end).fillna(False)
    amount = promises["promised_amount"]
    covered = np.where(
        amount > 0, paid + COVER_TOLERANCE_AMOUNT >= amount, paid > COVER_TOLERANCE_AMOUNT
    )
    kept = covered | invoice_settled.to_numpy(dtype=bool)
    status = np.where(
        kept,
        STATUS_KEPT,
        np.where(promises["promised_date"] < as_of, STATUS_BROKEN, STATUS_ACTIVE),
    )
    return promises.assign(paid_amount=paid, status=pd.array(status, dtype="string"))


def _promises_made(activities: pd.DataFrame) -> pd.Series:
    """Which activities are promises with a promised date (the ones that can be judged)."""
    is_promise = activities["kind"].str.strip().str.lower() == PROMISE_KIND
    return is_promise.fillna(False) & activities["promised_date"].notna()


def promise_summary(
    ledger: Ledger, as_of: pd.Timestamp | str, settled: pd.Series | None = None
) -> pd.DataFrame:
    """Per customer with promises: broken count, and the latest active promise's date.

    Index customer_id; columns ``broken_promises`` (int), ``active_promise_until``
    (the latest promised date among active promises, NaT when none) and
    ``last_broken_date`` (the promised date of the latest broken promise, NaT when none).
    """
    if not _promises_made(ledger.activities).any():
        # nothing to judge. Not "no invoices": a customer's promises are judged by its
        # payments too, and its answer must not depend on other customers' invoices.
        return pd.DataFrame(
            {
                "broken_promises": pd.Series(dtype="int64"),
                "active_promise_until": pd.Series(dtype="datetime64[ns]"),
                "last_broken_date": pd.Series(dtype="datetime64[ns]"),
            },
            index=pd.Index([], name="customer_id", dtype="string"),
        )
    promises = promise_status(ledger, as_of, settled)
    broken = (promises["status"] == STATUS_BROKEN).groupby(promises["customer_id"]).sum()
    active_dates = promises["promised_date"].where(promises["status"] == STATUS_ACTIVE)
    until = active_dates.groupby(promises["customer_id"]).max()
    broken_dates = promises["promised_date"].where(promises["status"] == STATUS_BROKEN)
    summary = pd.DataFrame(
        {
            "broken_promises": broken.astype("int64"),
            "active_promise_until": until,
            "last_broken_date": broken_dates.groupby(promises["customer_id"]).max(),
        }
    )
    summary.index.name = "customer_id"
    return summary
