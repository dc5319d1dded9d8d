"""``build_features`` against a slow, obvious per-row reference on a random small ledger.

The reference filters the ledger to what is known at t with plain pandas, one row at a
time, straight from the point-in-time rules; the vectorized code must agree on every row.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from ledger.frames import Ledger
from ledger.settlement import settled_dates

DAY = pd.Timedelta(days=1)


def _effective_payments(ledger: Ledger, settled: pd.Series) -> pd.DataFrame:
    """Actual payments plus, per settled invoice, the rest not covered on its settle day."""
    inv = ledger.invoices.assign(settled=settled)
    pay = ledger.payments.merge(
        inv[["invoice_id", "amount", "settled"]],
        on="invoice_id",
        how="left",
        suffixes=("", "_invoice"),
    )
    through = pay[pay["payment_date"] <= pay["settled"]].groupby("invoice_id")["amount"].sum()
    rest = inv["amount"] - inv["invoice_id"].map(through).astype(float).fillna(0.0)
    implied = inv[inv["settled"].notna() & (rest > 0.01)]
    implied = pd.DataFrame(
        {
            "customer_id": implied["customer_id"],
            "invoice_id": implied["invoice_id"],
            "payment_date": implied["settled"],
            "amount": rest[implied.index],
            "amount_invoice": implied["amount"],
        }
    )
    return pd.concat([pay, implied], ignore_index=True)


def _history(inv: pd.DataFrame, own: str, t: pd.Timestamp) -> dict[str, float]:
    h = inv[(inv["settled"] <= t) & (inv["invoice_id"] != own)]
    h = h.sort_values(["settled", "due_date", "issue_date"], kind="stable")
    days_late = ((h["settled"] - h["due_date"]) / DAY).to_numpy(float)
    n = len(h)
    if n == 0:
        return {"paid_invoices_count": 0.0, "late_invoices_count": 0.0}
    late = days_late > 0
    streak = 0
    for value in days_late[::-1]:
        if value > 0:
            break
        streak += 1
    mean = days_late.mean()
    return {
        "paid_invoices_count": n,
        "late_invoices_count": late.sum(),
        "late_ratio_by_count": late.mean(),
        "late_ratio_by_amount": h["amount"][late].sum() / h["amount"].sum(),
        "mean_days_late": mean,
        "last_days_late": days_late[-1],
        "mean_days_late_last_4": days_late[-4:].mean(),
        "days_late_trend": days_late[-4:].mean() - mean,
        "std_days_late": days_late.std(ddof=1) if n > 1 else np.nan,
        "max_days_late": days_late.max(),
        "on_time_streak": streak,
    }


def _position(inv: pd.DataFrame, pay: pd.DataFrame, t: pd.Timestamp) -> dict[str, float]:
    open_ = inv[(inv["issue_date"] <= t) & ~(inv["settled"] <= t)]
    paid = pay[pay["payment_date"] <= t].groupby("invoice_id")["amount"].sum()
    left = open_["amount"] - open_["invoice_id"].map(paid).astype(float).fillna(0.0)
    overdue = open_["due_date"] < t
    return {
        "open_invoices_count": len(open_),
        "open_invoices_amount": left.sum(),
        "overdue_invoices_count": overdue.sum(),
        "overdue_invoices_amount": left[overdue].sum(),
        "max_days_overdue": ((t - open_["due_date"][overdue]).max() / DAY) if overdue.any() else 0,
    }


def _payments(eff: pd.DataFrame, t: pd.Timestamp) -> dict[str, float]:
    known = eff[eff["payment_date"] <= t]
    age = (t - known["payment_date"]) / DAY
    applied = known[known["invoice_id"].notna()]
    last_90, prev_90 = (
        known["amount"][age < 90].sum(),
        known["amount"][(age >= 90) & (age < 180)].sum(),
    )
    return {
        "days_since_last_payment": age.min() if len(known) else np.nan,
        "paid_amount_last_30d": known["amount"][age < 30].sum(),
        "paid_amount_last_90d": last_90,
        "paid_amount_prev_90d": prev_90,
        "payment_drop_ratio": last_90 / prev_90 if prev_90 > 0 else np.nan,
        "partial_payment_share": (applied["amount"] < applied["amount_invoice"] - 0.01).mean()
        if len(applied)
        else np.nan,
    }


def _activities(
    act: pd.DataFrame, eff: pd.DataFrame, inv: pd.DataFrame, t: pd.Timestamp
) -> dict[str, float]:
    known = act[act["date"] <= t]
    broken = 0
    for promise in known[(known["kind"] == "promise") & (known["promised_date"] < t)].itertuples():
        window = eff[
            (eff["payment_date"] >= promise.date) & (eff["payment_date"] <= promise.promised_date)
        ]
        if pd.notna(promise.invoice_id):
            window = window[window["invoice_id"] == promise.invoice_id]
            own_settled = inv.loc[inv["invoice_id"] == promise.invoice_id, "settled"]
            if (own_settled <= promise.promised_date).any():
                continue
        paid = window["amount"].sum()
        amount = promise.promised_amount
        broken += not (paid + 0.01 >= amount if amount > 0 else paid > 0)
    disputes = (known["kind"] == "dispute_opened").sum() - (
        known["kind"] == "dispute_resolved"
    ).sum()
    return {
        "reminders_last_90d": (
            (known["kind"] == "reminder") & ((t - known["date"]) / DAY < 90)
        ).sum(),
        "promises_count": (known["kind"] == "promise").sum(),
        "broken_promises_count": broken,
        "open_disputes_count": max(disputes, 0),
        "days_since_last_contact": ((t - known["date"]) / DAY).min() if len(known) else np.nan,
    }


def _reference_row(
    ledger: Ledger, settled: pd.Series, eff: pd.DataFrame, own: str, t: pd.Timestamp
) -> dict[str, float]:
    inv_all = ledger.invoices.assign(settled=settled)
    own_row = inv_all[inv_all["invoice_id"] == own].iloc[0]
    customer = own_row["customer_id"]
    inv = inv_all[inv_all["customer_id"] == customer]
    pay = ledger.payments[ledger.payments["invoice_id"].isin(inv["invoice_id"])]
    own_paid = pay[(pay["invoice_id"] == own) & (pay["payment_date"] <= t)]["amount"].sum()
    is_settled = own_row["settled"] <= t
    return {
        "open_amount": 0.0 if is_settled else max(own_row["amount"] - own_paid, 0.0),
        "paid_share": 1.0 if is_settled else min(own_paid / own_row["amount"], 1.0),
        "amount_vs_customer_median": own_row["amount"]
        / inv[inv["issue_date"] <= t]["amount"].median(),
        "invoices_count": (inv["issue_date"] <= t).sum(),
        **_history(inv, own, t),
        **_position(inv, pay, t),
        **_payments(eff[eff["customer_id"] == customer], t),
        **_activities(
            ledger.activities[ledger.activities["customer_id"] == customer],
            eff[eff["customer_id"] == customer],
            inv,
            t,
        ),
    }


@pytest.mark.parametrize("seed", [1, 2])
def test_vectorized_features_match_the_per_row_reference(kit, seed: int) -> None:  # type: ignore[no-untyped-def]
    ledger = kit.random_ledger(seed)
    invoices = ledger.invoices
    days_after_issue = [0, 9, 40, 120]
    offsets = pd.to_timedelta(np.tile(days_after_issue, len(invoices)), "D")
    repeat = len(days_after_issue)
    rows = pd.DataFrame(
        {
            "invoice_id": np.repeat(invoices["invoice_id"].to_numpy(), repeat),
            "as_of": np.repeat(invoices["issue_date"].to_numpy(), repeat) + offsets,
        }
    )
    actual = build_features(ledger, rows)
    settled = settled_dates(invoices, ledger.payments)
    settled = settled.where(
        settled.isna() | (settled >= invoices["issue_date"]), invoices["issue_date"]
    )
    # Plain object strings: the reference does thousands of tiny filters.
    ledger = Ledger(
        **{
            name: table.astype({c: object for c in table.select_dtypes("string")})
            for name, table in ledger.tables().items()
        }
    )
    eff = _effective_payments(ledger, settled)
    expected = pd.DataFrame(
        [
            _reference_row(ledger, settled, eff, row.invoice_id, row.as_of)
            for row in rows.itertuples()
        ]
    ).astype(float)
    pd.testing.assert_frame_equal(
        actual[expected.columns], expected, check_exact=False, rtol=1e-9, atol=1e-9
    )
