"""Accounts-receivable KPIs as of t, point in time: DSO, CEI, ADD, aging, and their trend.

Only facts known at t count: invoices issued <= t; an invoice is settled at t if its
settled date (``ledger.settlement.settled_dates``: its ``paid_date`` or the payment that
covered it) is <= t; its open amount at t is its amount less applied payments dated <= t.
"Current" means not yet past due at t (due date >= t). Periods are calendar months
ending at t: month k covers (t - k months, t - (k-1) months].

- **AR(t)**: sum of open amounts at t. **Sales(a, b]**: amounts of invoices issued in (a, b].
- **DSO, count-back** over the last 3 months: walk back from t, month by month; while AR
  left exceeds the month's sales, add the month's days and subtract its sales; then add
  ``days x AR left / sales`` of the month that absorbs the rest. AR beyond the 3 months is
  counted at their average daily sales. (Undefined, NaN, when those months had no sales.)
- **DSO, simple** (for comparison): AR(t) / Sales(t - 90 days, t] x 90.
- **Best possible DSO**: the count-back DSO of the current (not past due) AR only.
- **ADD**, average days delinquent: DSO (count-back) - best possible DSO.
- **CEI** over the month (s, t], s = t - 1 month: (AR(s) + Sales(s, t] - AR(t)) /
  (AR(s) + Sales(s, t] - current AR(t)) x 100.
- **Aging** at t by days past due (t - due date): current (<= 0), 1-30, 31-60, 61-90, 90+,
  amount and count of open invoices; **share current** = current amount / AR(t) x 100.

Amounts are either per currency (``reporting_currency=None``: the currency is a group key)
or converted to the reporting currency with the configured rates, never summed blindly.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from ledger.frames import Ledger
from ledger.settlement import COVER_TOLERANCE_AMOUNT, settled_dates
from serving.worklist import WorklistParams, assigned_collectors, customer_risk, to_reporting

AGING_BUCKETS = ("current", "1-30", "31-60", "61-90", "90+")
_AGING_EDGES_DAYS = (0, 30, 60, 90)
COUNT_BACK_MONTHS = 3
SIMPLE_DSO_DAYS = 90
GROUP_BYS = ("collector", "segment")


def invoice_facts(
    ledger: Ledger,
    as_of: pd.Timestamp,
    group_by: str | None,
    reporting_currency: str | None,
    fx_rates: Mapping[str, float],
    settled: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per invoice issued <= ``as_of``: group, amount, open amount and due date at t.

    Amounts in the reporting currency, or in their own (then ``currency`` is a group key).
    ``settled``: ``settled_dates`` of the whole ledger, when the caller already has it.
    """
    issued = ledger.invoices["issue_date"] <= as_of
    invoices = ledger.invoices.loc[issued]
    payments = ledger.payments.loc[ledger.payments["payment_date"] <= as_of]
    if settled is None:
        settled = settled_dates(ledger.invoices, ledger.payments)
    settled = settled.loc[issued]
    applied = payments.loc[payments["invoice_id"].notna()].groupby("invoice_id")["amount"].sum()
    paid = invoices["invoice_id"].map(applied).fillna(0.0).astype("float64")
    open_amount = (invoices["amount"] - paid).clip(lower=0.0).where(~(settled <= as_of), 0.0)
    customers = ledger.customers.set_index("customer_id")
    currency = invoices["currency"].fillna(invoices["customer_id"].map(customers["currency"]))
    facts = pd.DataFrame(
        {
            "group": "all",
            "currency": currency.astype("string"),
            "issue_date": invoices["issue_date"],
            "due_date": invoices["due_date"],
            "amount": invoices["amount"].astype("float64"),
            "open_amount": open_amount.astype("float64"),
        }
    )
    if group_by == "collector":
        facts["group"] = invoices["customer_id"].map(assigned_collectors(ledger, as_of))
    elif group_by == "segment":
        facts["group"] = invoices["customer_id"].map(customers["segment"])
    facts["group"] = facts["group"].fillna("(none)").astype("string")
    if reporting_currency is None:
        return facts
    for column in ("amount", "open_amount"):
        facts[column] = to_reporting(facts[column], facts["currency"], reporting_currency, fx_rates)
    return facts.assign(currency=reporting_currency)


def _month_bounds(as_of: pd.Timestamp) -> list[tuple[pd.Timestamp, pd.Timestamp]]:
    """(start, end] of each of the ``COUNT_BACK_MONTHS`` calendar months ending at ``as_of``."""
    return [
        (as_of - pd.DateOffset(months=back), as_of - pd.DateOffset(months=back - 1))
        for back in range(1, COUNT_BACK_MONTHS + 1)
    ]


def count_back_dso(
    receivable: pd.Series, monthly_sales: list[pd.Series], month_days: list[int]
) -> pd.Series:
    """Count-back DSO in days of ``receivable`` (per group), latest month's sales first."""
    left = receivable.astype("float64").copy()
    dso = pd.Series(0.0, index=left.index)
    for sales, days in zip(monthly_sales, month_days, strict=True):
        absorbed = np.minimum(left, sales)
        dso += days * (absorbed / sales.where(sales > 0)).fillna(0.0)
        left -= absorbed
    daily_sales = sum(monthly_sales) / sum(month_days)
    # AR older than the window: counted at the window's average daily sales.
    return dso + (left / daily_sales.where(daily_sales > 0)).where(left > 0, 0.0)


def _group_sums(facts: pd.DataFrame, keys: list[str], as_of: pd.Timestamp) -> pd.DataFrame:
    """Per group: monthly and 90-day sales, opening AR, and open amount / count per bucket."""
    issue = facts["issue_date"]
    columns = {name: facts[name] for name in keys}
    for position, (start, end) in enumerate(_month_bounds(as_of)):
        columns[f"sales_{position}"] = facts["amount"].where((issue > start) & (issue <= end), 0.0)
    recent = issue > as_of - pd.Timedelta(days=SIMPLE_DSO_DAYS)
    columns["sales_recent"] = facts["amount"].where(recent, 0.0)
    columns["opening"] = facts["opening_amount"]
    columns["receivable"] = facts["open_amount"]
    is_open = facts["open_amount"] > 0
    past_due_days = (as_of - facts["due_date"]).dt.days
    edges = [-np.inf, *_AGING_EDGES_DAYS, np.inf]
    for name, low, high in zip(AGING_BUCKETS, edges[:-1], edges[1:], strict=True):
        in_bucket = is_open & (past_due_days > low) & (past_due_days <= high)
        columns[f"aging_{name}_amount"] = facts["open_amount"].where(in_bucket, 0.0)
        columns[f"aging_{name}_count"] = in_bucket.astype("int64")
    return pd.DataFrame(columns).groupby(keys).sum()


def _snapshot(facts: pd.DataFrame, keys: list[str], as_of: pd.Timestamp) -> pd.DataFrame:
    """AR, current AR, aging, DSO, ADD and CEI per group at ``as_of``."""
    sums = _group_sums(facts, keys, as_of)
    monthly_sales = [sums[f"sales_{position}"] for position in range(COUNT_BACK_MONTHS)]
    month_days = [(end - start).days for start, end in _month_bounds(as_of)]
    receivable, current = sums["receivable"], sums["aging_current_amount"]
    dso = count_back_dso(receivable, monthly_sales, month_days)
    best_dso = count_back_dso(current, monthly_sales, month_days)
    recent = sums["sales_recent"]
    # CEI over the month (s, t]: what could be collected = opening AR + the month's sales.
    collectible = sums["opening"] + monthly_sales[0]
    cei_denominator = collectible - current
    out = pd.DataFrame(index=sums.index)
    out["as_of"] = as_of
    out["receivable_amount"] = receivable
    out["current_amount"] = current
    out["share_current_pct"] = 100 * current / receivable.where(receivable > 0)
    out["dso_count_back_days"] = dso
    out["dso_simple_days"] = receivable / recent.where(recent > 0) * SIMPLE_DSO_DAYS
    out["best_possible_dso_days"] = best_dso
    out["add_days"] = dso - best_dso
    out["cei_pct"] = (
        100 * (collectible - receivable) / cei_denominator.where(cei_denominator.abs() > 1e-9)
    )
    for name in AGING_BUCKETS:
        out[f"aging_{name}_amount"] = sums[f"aging_{name}_amount"]
        out[f"aging_{name}_count"] = sums[f"aging_{name}_count"]
    return out


def kpi_snapshot(
    ledger: Ledger,
    as_of: pd.Timestamp | str,
    group_by: str | None = None,
    reporting_currency: str | None = None,
    fx_rates: Mapping[str, float] | None = None,
    settled: pd.Series | None = None,
) -> pd.DataFrame:
    """Every KPI at ``as_of``, one row per group (``currency`` and/or collector/segment).

    ``group_by``: None (one row, or one per currency), "collector" or "segment".
    ``settled``: ``settled_dates`` of the whole ledger, when the caller already has it.
    """
    if group_by is not None and group_by not in GROUP_BYS:
        raise ValueError(f"unknown group_by {group_by!r}; allowed: {GROUP_BYS}")
    as_of = pd.Timestamp(as_of).normalize()
    rates = fx_rates or {}
    if settled is None:
        settled = settled_dates(ledger.invoices, ledger.payments)
    facts = invoice_facts(ledger, as_of, group_by, reporting_currency, rates, settled)
    start = as_of - pd.DateOffset(months=1)
    # Only open amounts are needed at the month's start: no grouping there.
    opening = invoice_facts(ledger, start, None, reporting_currency, rates, settled)
    opening_amount = pd.Series(opening["open_amount"].to_numpy(), index=opening.index)
    # Invoices issued by the start keep their row index in both frames (same filter order).
    facts = facts.assign(opening_amount=opening_amount.reindex(facts.index).fillna(0.0))
    keys = ["currency", "group"]
    return _snapshot(facts, keys, as_of).reset_index()


def kpi_trend(
    ledger: Ledger,
    as_of: pd.Timestamp | str,
    months: int = 12,
    group_by: str | None = None,
    reporting_currency: str | None = None,
    fx_rates: Mapping[str, float] | None = None,
) -> pd.DataFrame:
    """``kpi_snapshot`` at ``as_of`` and each of the ``months - 1`` month ends before it."""
    as_of = pd.Timestamp(as_of).normalize()
    dates: Sequence[pd.Timestamp] = [
        as_of - pd.DateOffset(months=back) for back in range(months - 1, -1, -1)
    ]
    settled = settled_dates(ledger.invoices, ledger.payments)
    frames = [
        kpi_snapshot(ledger, date, group_by, reporting_currency, fx_rates, settled)
        for date in dates
    ]
    return pd.concat(frames, ignore_index=True)


def overdue_paid(
    ledger: Ledger, listed_on: pd.Timestamp, horizon: pd.Timestamp, params: WorklistParams
) -> pd.DataFrame:
    """Per customer: amount overdue at ``listed_on`` and how much of it was paid by ``horizon``.

    Paid = the overdue invoices' open amount at ``listed_on`` less theirs at ``horizon``.
    """
    currency, rates = params.reporting_currency, params.fx_rates
    settled = settled_dates(ledger.invoices, ledger.payments)
    then = invoice_facts(ledger, listed_on, None, currency, rates, settled)
    later = invoice_facts(ledger, horizon, None, currency, rates, settled)["open_amount"]
    overdue = then.loc[(then["open_amount"] > 0) & (then["due_date"] < listed_on)]
    paid = (overdue["open_amount"] - later.reindex(overdue.index).fillna(0.0)).clip(lower=0.0)
    per_invoice = pd.DataFrame(
        {
            "customer_id": ledger.invoices.loc[overdue.index, "customer_id"],
            "overdue_amount": overdue["open_amount"],
            "paid_amount": paid,
        }
    )
    return per_invoice.groupby("customer_id")[["overdue_amount", "paid_amount"]].sum()


def worklist_effect(
    scores_then: pd.DataFrame,
    ledger: Ledger,
    listed_on: pd.Timestamp | str,
    params: WorklistParams,
    top_n: int,
    horizon_days: int = 30,
) -> pd.DataFrame:
    """Did the top of an earlier worklist pay? Top ``top_n`` customers vs the rest.

    ``scores_then`` are the scores stored on ``listed_on`` (t0); customers are ranked by
    amount at risk as the worklist did. For each, the amount overdue at t0 and how much of
    it was paid by t0 + ``horizon_days`` (``overdue_paid``). Rows ``top`` and ``rest``:
    customers, customers_paid (paid anything of it), overdue_amount, paid_amount,
    paid_share_pct; amounts in the reporting currency.
    """
    listed_on = pd.Timestamp(listed_on).normalize()
    horizon = listed_on + pd.Timedelta(days=horizon_days)
    risk = customer_risk(scores_then, params).reset_index()
    ranked = risk.sort_values(["amount_at_risk", "customer_id"], ascending=[False, True])
    listed = ranked["customer_id"]
    per_customer = overdue_paid(ledger, listed_on, horizon, params).reindex(listed).fillna(0.0)
    per_customer["group"] = np.where(listed.isin(listed.iloc[:top_n]), "top", "rest")
    per_customer["paid"] = per_customer["paid_amount"] > COVER_TOLERANCE_AMOUNT
    out = per_customer.groupby("group").agg(
        customers=("paid", "size"),
        customers_paid=("paid", "sum"),
        overdue_amount=("overdue_amount", "sum"),
        paid_amount=("paid_amount", "sum"),
    )
    out = out.reindex(["top", "rest"]).fillna(0)
    out["paid_share_pct"] = (
        100 * out["paid_amount"] / out["overdue_amount"].where(out["overdue_amount"] > 0)
    )
    out[["customers", "customers_paid"]] = out[["customers", "customers_paid"]].astype("int64")
    return out.rename_axis("group").reset_index().assign(listed_on=listed_on, horizon=horizon)
