"""Scoring: a ledger (whole, or some customers' slice) as of a date -> per-invoice and
per-customer risk with reasons. No I/O and no HTTP here: routes read, this computes.

Steps: the invoices open at the end of day ``as_of`` (issued <= as_of, not settled by it,
``ledger.settlement``) -> point-in-time features (``features.build``) -> one
``predict_frame`` call -> contributions -> top reasons in words -> the customer roll-up
(``models.rollup.customer_rollup``: expected amount > 30 days late, amount at risk in the
reporting currency and the tier, ``models.rollup.RiskTiers``).

Same numbers whatever the path. Stored mode (a customer's rows read from the database),
stateless mode (the caller's rows) and the refresh (the whole ledger) all come here, and
``build_features`` gives a customer's rows from that customer's data alone (also where
its ``disputed`` feature comes from: ``features.invoice``), so a customer's answer never
depends on other customers' rows -- and training, monitoring and every engine build the
same features.

Customer reasons are the reasons of the customer's riskiest open invoice (largest open
amount x P(> 30)), so each reason's value is one real invoice's value.

The feature matrix is made once (``PaymentRiskModel.prepare``) and serves both the
prediction and the reasons. Reasons: ``method="path"`` (path attributions, ~0.05 ms per
row) or ``"shap"`` (exact TreeSHAP, ~10 ms of CPU per row on the demo champion: more than
a whole request may take). The service uses ``settings.score_reasons_method`` (default
``path``) for live answers and ``path`` for the refresh, so by default a live answer and
the stored score of the same invoice give the same reasons.
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from contextlib import AbstractContextManager
from datetime import date, timedelta
from typing import Any

import numpy as np
import pandas as pd
from threadpoolctl import ThreadpoolController

from features.build import build_features
from features.columns import encode_strings, float_array
from ledger.errors import PayriskError
from ledger.frames import Ledger
from ledger.settlement import COVER_TOLERANCE_AMOUNT
from models.explain import REASON_GROUPS, Reason, aggregate_contributions, top_reasons
from models.pyfunc import LoadedModel, output_columns
from models.reasons import Lang
from models.rollup import RiskTiers
from serving.rollup_rows import ROLLUP_COLUMNS as ROLLUP_COLUMNS  # importable from here
from serving.rollup_rows import rollup_customers
from serving.scored import ReasonMethod, Scored

REASONS_PER_ROW = 3
# No ledger date is earlier (``serving.schemas.ledger.MIN_DATE``); pandas dates need > 1677.
EARLIEST_AS_OF = date(1900, 1, 1)


class AsOfOutOfRange(PayriskError):
    """An as-of date the service will not score at: before the data, or far in the future."""


class ModelIncompatible(PayriskError):
    """The served model wants features or outputs this payrisk does not produce."""


def ledger_data_start(ledger: Ledger) -> pd.Timestamp | None:
    """The earliest date of any fact in the ledger (customer created, invoice issued,
    payment, activity), or None when there is none."""
    dates = [
        ledger.customers["created_date"].min(),
        ledger.invoices["issue_date"].min(),
        ledger.payments["payment_date"].min(),
        ledger.activities["date"].min(),
    ]
    known = [value for value in dates if pd.notna(value)]
    return pd.Timestamp(min(known)) if known else None


_FACT_DATES = (
    ("customers", "created_date"),
    ("invoices", "issue_date"),
    ("payments", "payment_date"),
    ("activities", "date"),
)


def data_start_by_customer(ledger: Ledger) -> pd.Series:
    """Per customer id, the earliest date of any of its facts (``ledger_data_start``)."""
    # numpy arrays and one hash pass over the ids: a frame concat and a groupby cost ms
    # for a request's few rows
    frames = [(ledger.table(name), column) for name, column in _FACT_DATES]
    ids, codes_per_table = encode_strings([frame["customer_id"] for frame, _ in frames])
    codes = np.concatenate(codes_per_table)
    days = np.concatenate([frame[day].to_numpy(dtype="datetime64[ns]") for frame, day in frames])
    # the minimum per id with NaT (an unknown date) skipped, like groupby's min
    never = np.iinfo(np.int64).max
    known = (codes >= 0) & ~np.isnat(days)
    earliest = np.full(len(ids), never, dtype=np.int64)
    np.minimum.at(earliest, codes[known], days.view(np.int64)[known])
    nat = np.datetime64("NaT", "ns")
    starts = np.where(earliest == never, nat, earliest.view("datetime64[ns]"))
    by_id = np.argsort(ids.to_numpy(dtype=object), kind="stable")
    index = pd.Index(ids.take(by_id), name="customer_id")
    return pd.Series(starts[by_id], index=index, name="day")


def check_as_of(ledger: Ledger, as_of: date, *, today: date, max_future_days: int) -> pd.Timestamp:
    """``as_of`` as a timestamp, or ``AsOfOutOfRange`` saying why it cannot be scored.

    Refused: more than ``max_future_days`` after ``today``; before ``EARLIEST_AS_OF``; or
    before the ledger's first fact (nothing was known then). Compared as ``date`` first,
    so no date overflows pandas.
    """
    latest = today + timedelta(days=max_future_days)
    if as_of > latest:
        raise AsOfOutOfRange(
            f"as_of {as_of.isoformat()} is more than {max_future_days} days after today "
            f"({today.isoformat()}); score at {latest.isoformat()} or earlier"
        )
    start = ledger_data_start(ledger)
    first_known = EARLIEST_AS_OF if start is None else max(start.date(), EARLIEST_AS_OF)
    if as_of < first_known:
        where = "" if start is None else " (the first customer, invoice, payment or activity)"
        raise AsOfOutOfRange(
            f"as_of {as_of.isoformat()} is before any of the data: the first date is "
            f"{first_known.isoformat()}{where}; nothing was known before it"
        )
    return pd.Timestamp(as_of)


def open_invoice_rows(ledger: Ledger, as_of: pd.Timestamp) -> pd.DataFrame:
    """``invoice_id, as_of`` of the invoices open at the end of day ``as_of``, by invoice_id.

    Open: issued <= as_of and not settled by then -- ``ledger.settlement``'s rule (the
    paid date if there is one, else the applied payments dated <= as_of covering the
    amount), computed with array sums instead of per-invoice cover dates.
    """
    invoices, payments = ledger.invoices, ledger.payments
    day = as_of.to_datetime64()
    issued = invoices["issue_date"].to_numpy(dtype="datetime64[ns]") <= day
    paid = invoices["paid_date"].to_numpy(dtype="datetime64[ns]")
    has_paid_date = ~np.isnat(paid)
    applied = (payments["payment_date"].to_numpy(dtype="datetime64[ns]") <= day) & payments[
        "invoice_id"
    ].notna().to_numpy(dtype=bool)
    positions = pd.Index(invoices["invoice_id"]).get_indexer(payments["invoice_id"][applied])
    amounts = payments["amount"].to_numpy(dtype="float64")[applied]
    paid_by_day = np.bincount(
        positions[positions >= 0], weights=amounts[positions >= 0], minlength=len(invoices)
    )
    covered = paid_by_day >= invoices["amount"].to_numpy(dtype="float64") - COVER_TOLERANCE_AMOUNT
    settled = np.where(has_paid_date, paid <= day, covered)
    open_ids = np.sort(invoices["invoice_id"].to_numpy(dtype=object)[issued & ~settled])
    return pd.DataFrame(
        {
            "invoice_id": pd.array(open_ids, dtype="string"),
            "as_of": np.full(len(open_ids), day, dtype="datetime64[ns]"),
        }
    )


_THREADPOOLS: list[ThreadpoolController] = []


def one_thread() -> AbstractContextManager[object]:
    """LightGBM's OpenMP (and BLAS) on one thread in the calling thread, for a block.

    The service runs one worker process per core: a request that spreads over every core
    only makes the workers wait for each other (OpenMP threads spin on busy cores; SHAP
    of one customer took about twice as long on 2 threads as on 1 here).
    """
    if not _THREADPOOLS:  # found once, after lightgbm is loaded; a race makes two, harmless
        _THREADPOOLS.append(ThreadpoolController())
    return _THREADPOOLS[0].limit(limits=1)


def _reasons(
    model: LoadedModel,
    features: pd.DataFrame,
    matrix: np.ndarray,
    langs: Sequence[Lang],
    method: ReasonMethod,
) -> dict[str, list[list[Reason]]]:
    if features.empty:
        return {lang: [] for lang in langs}
    contributions = model.model.contributions(features, method=method, matrix=matrix)
    usable = {
        column: target
        for column, target in REASON_GROUPS.items()
        if target in contributions.columns
    }
    merged = aggregate_contributions(contributions, usable)
    return {lang: top_reasons(merged, features, k=REASONS_PER_ROW, lang=lang) for lang in langs}


def _prepared(model: LoadedModel, features: pd.DataFrame) -> np.ndarray:
    """The model's matrix of ``features``, made once for the prediction and the reasons."""
    missing = [name for name in model.card.feature_names if name not in features.columns]
    if missing:
        raise ModelIncompatible(
            f"the served model needs features this payrisk does not build: {missing[:5]} "
            f"(model feature code {model.card.feature_code_version})"
        )
    matrix: np.ndarray = model.model.prepare(features)
    return matrix


def _predicted_columns(
    model: LoadedModel, ledger: Ledger, features: pd.DataFrame, matrix: np.ndarray
) -> dict[str, Any]:
    """Per row of ``features``: the invoice's keys, open amount and due date, and the
    model's predictions, as arrays (the scored frame is built once, already ordered)."""
    at = pd.Index(ledger.invoices["invoice_id"]).get_indexer(features["invoice_id"])
    due_of = ledger.invoices["due_date"].to_numpy(dtype="datetime64[ns]")
    # an invoice not found (-1) picks the appended NaT
    due_dates = np.append(due_of, np.datetime64("NaT", "ns"))[at]
    if features.empty:
        # the model's calibrators refuse zero rows: empty columns of the same names
        names = [*output_columns(model.card.buckets), "predicted_payment_date"]
        predicted = {name: np.empty(0, dtype="float64") for name in names}
        predicted["predicted_payment_date"] = np.empty(0, dtype="datetime64[ns]")
    else:
        due_series = pd.Series(due_dates, index=features.index)
        predicted = model.model.predict_columns(
            features, features["as_of"], due_series, matrix=matrix
        )
    if "p_over_30" not in predicted:
        raise ModelIncompatible("the served model has no 30-day bucket edge (no p_over_30)")
    keys = {
        "invoice_id": features["invoice_id"].array,
        "customer_id": features["customer_id"].array,
        "currency": features["currency"].array,
        "open_amount": float_array(features["open_amount"]),
        "due_date": due_dates,
    }
    return {**keys, **predicted}


def score_ledger(
    model: LoadedModel,
    ledger: Ledger,
    as_of: pd.Timestamp,
    customer_ids: Sequence[str],
    *,
    langs: Sequence[Lang] = ("en",),
    method: ReasonMethod = "shap",
    tiers: RiskTiers | None = None,
) -> Scored:
    """Score every invoice of ``ledger`` open at the end of ``as_of``, and roll up per customer.

    ``customer_ids``: the customers to report (all of them appear in ``customers``, in
    this order, even with nothing open). ``langs``: the languages of the reasons;
    ``method``: exact SHAP or the fast path approximation (``models.explain``).
    ``tiers``: thresholds and exchange rates of the tier (``models.rollup.RiskTiers``).
    """
    clock = time.perf_counter()
    timings: dict[str, float] = {}

    def lap(stage: str) -> None:
        nonlocal clock
        now = time.perf_counter()
        timings[stage] = now - clock
        clock = now

    rows = open_invoice_rows(ledger, as_of)
    features = build_features(ledger, rows)
    lap("features")
    with one_thread():
        matrix = _prepared(model, features)
        predicted = _predicted_columns(model, ledger, features, matrix)
        lap("predict")
        risk = predicted["open_amount"] * predicted["p_over_30"]
        order = np.lexsort((predicted["invoice_id"].to_numpy(dtype=object), -risk))
        invoices = pd.DataFrame({name: values.take(order) for name, values in predicted.items()})
        # a row's reasons do not depend on the other rows: explained in the features' order
        # and then put in ``order``, which spares a copy of the wide feature frame
        explained = _reasons(model, features, matrix, langs, method)
        reasons = {lang: [rows[i] for i in order] for lang, rows in explained.items()}
        lap("reasons")
    customers = rollup_customers(invoices, customer_ids, tiers)
    return Scored(
        as_of=as_of,
        invoices=invoices,
        customers=customers,
        reasons=reasons,
        bucket_labels=tuple(model.card.buckets.labels),
        reasons_method=method,
        timings_seconds=timings,
    )
