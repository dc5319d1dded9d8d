"""What the customer page shows: its worklist row, open invoices, history and activities.

Only the customer's own rows are read (``serving.ledger_reads.read_customers``) with its
scores of the newest refresh (``ledger.scores_store.read_latest_scores``); its worklist row
(tier, next action, snooze) comes from ``rank_worklist`` on that slice, as of the date.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import pandas as pd

from ledger.frames import Ledger
from ledger.scores_store import read_latest_scores
from ledger.settlement import settled_dates
from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.ledger_reads import read_customers
from serving.policy import load_policy
from serving.worklist import (
    MissingRateError,
    WorklistParams,
    assigned_collectors,
    rank_worklist,
)
from serving.worklist_reads import SCORE_COLUMNS, reasons_in, records

# The timeline shows the newest activities; a long-standing customer has hundreds.
TIMELINE_ACTIVITIES = 50


def paid_history(ledger: Ledger, settled: pd.Series | None = None) -> pd.DataFrame:
    """Settled invoices with their due date and days late (settled date - due date), by due.

    ``settled``: the invoices' ``settled_dates``, when the caller has them already.
    """
    invoices = ledger.invoices
    if settled is None:
        settled = settled_dates(invoices, ledger.payments)
    paid = invoices.assign(settled_date=settled).loc[settled.notna()]
    days_late = (paid["settled_date"] - paid["due_date"]).dt.days
    history = paid.assign(days_late=days_late)[["invoice_id", "due_date", "days_late"]]
    return history.sort_values(["due_date", "invoice_id"], ignore_index=True)


def open_invoices(
    ledger: Ledger, scores: pd.DataFrame, as_of: pd.Timestamp, settled: pd.Series | None = None
) -> pd.DataFrame:
    """Invoices open at ``as_of`` with their stored score (probabilities, predicted date)."""
    invoices = ledger.invoices
    if settled is None:
        settled = settled_dates(invoices, ledger.payments)
    still_open = (invoices["issue_date"] <= as_of) & ~(settled <= as_of)
    rows = invoices.loc[still_open, ["invoice_id", "issue_date", "due_date", "amount", "currency"]]
    wanted = ["invoice_id", "open_amount", "p_late", "p_over_30", "predicted_payment_date"]
    scored = scores[wanted] if not scores.empty else pd.DataFrame(columns=wanted)
    merged = rows.merge(scored, on="invoice_id", how="left")
    merged["open_amount"] = merged["open_amount"].astype("float64").fillna(merged["amount"])
    merged["overdue"] = merged["due_date"] < as_of
    return merged.sort_values(["due_date", "invoice_id"], ignore_index=True)


def _worklist_row(
    scores: pd.DataFrame, ledger: Ledger, settings: Settings, as_of: pd.Timestamp, language: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The customer's worklist row (or None when unscored) and a notice if it failed.

    Ranked from the customer's own slice: ~0.1 s of pandas, and no wait behind the
    worklist's facts (``serving.worklist_facts``), which every write makes update.
    """
    if scores.empty:
        return None, None
    narrowed = scores.assign(reasons=scores["reasons"].map(lambda v: reasons_in(v, language)))
    params = WorklistParams.from_settings(settings)
    rules = load_policy(settings.worklist_policy_file)
    try:
        ranked = rank_worklist(narrowed[list(SCORE_COLUMNS)], ledger, rules, params, as_of)
    except MissingRateError as error:
        return None, str(error)
    return (records(ranked)[0] if len(ranked) else None), None


def customer_view(
    store: LedgerStore, settings: Settings, customer_id: str, as_of: date, language: str
) -> dict[str, Any] | None:
    """Everything the customer template needs, or None for an unknown customer."""
    ledger = read_customers(store, [customer_id])
    if ledger.customers.empty:
        return None
    stamp = pd.Timestamp(as_of)
    scores = read_latest_scores(store, [customer_id])
    row, notice = _worklist_row(scores, ledger, settings, stamp, language)
    settled = settled_dates(ledger.invoices, ledger.payments)  # once for both tables
    invoices = open_invoices(ledger, scores, stamp, settled)
    activities = ledger.activities.sort_values(["date", "activity_id"], ascending=False)
    customer = records(ledger.customers)[0]
    customer["collector_now"] = str(assigned_collectors(ledger, stamp).iloc[0])
    balances = invoices.groupby("currency", dropna=False).agg(
        open_amount=("open_amount", "sum"),
        overdue_amount=("open_amount", lambda v: v[invoices.loc[v.index, "overdue"]].sum()),
    )
    return {
        "customer": customer,
        "row": row,
        "notice": notice,
        "balances": records(balances.reset_index()),
        "invoices": records(invoices),
        "history": records(paid_history(ledger, settled)),
        "activities": records(activities.head(TIMELINE_ACTIVITIES)),
        "activities_total": len(activities),
        "invoice_ids": sorted(invoices["invoice_id"].astype(str)),
    }
