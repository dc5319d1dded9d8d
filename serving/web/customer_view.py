"""What the customer page shows: its worklist row, open invoices, history and activities.

Only the customer's own rows are read (``serving.ledger_reads.read_customers``) with its
scores of the newest refresh (``ledger.scores_store.read_latest_scores``); its worklist row
(tier, next action, snooze) comes from ``rank_worklist`` on that slice, as of the date.
"""

from __future__ import annotations

from datetime import date
from typing import Any

import numpy as np
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
    customer_facts,
    rank_customers,
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
    scores: pd.DataFrame, facts: pd.DataFrame, settings: Settings, language: str
) -> tuple[dict[str, Any] | None, str | None]:
    """The customer's worklist row (or None when unscored) and a notice if it failed.

    Ranked from the customer's own slice, as ``rank_worklist`` does, on the
    ``customer_facts`` the caller computed: no wait behind the worklist's facts
    (``serving.worklist_facts``), which every write makes update.
    """
    narrowed = scores.assign(reasons=scores["reasons"].map(lambda v: reasons_in(v, language)))
    params = WorklistParams.from_settings(settings)
    rules = load_policy(settings.worklist_policy_file)
    try:
        ranked = rank_customers(narrowed[list(SCORE_COLUMNS)], facts, rules, params)
    except MissingRateError as error:
        return None, str(error)
    return (records(ranked)[0] if len(ranked) else None), None


def _balances(invoices: pd.DataFrame) -> pd.DataFrame:
    """Per currency of the open invoices: open amount and the overdue part of it."""
    grouped = invoices.groupby("currency", dropna=False)["open_amount"]
    open_amount = grouped.sum()
    group_of = grouped.ngroup().to_numpy()  # each row's position in ``open_amount``
    amounts = invoices["open_amount"].to_numpy(dtype="float64")
    overdue = invoices["overdue"].to_numpy(dtype=bool)
    # numpy's sum per currency (as Series.sum), not groupby's compensated sum: the
    # figures the page always showed, to the last bit
    overdue_amount = [
        np.nansum(amounts[(group_of == group) & overdue]) for group in range(len(open_amount))
    ]
    return pd.DataFrame({"open_amount": open_amount, "overdue_amount": overdue_amount})


def customer_view(
    store: LedgerStore, settings: Settings, customer_id: str, as_of: date, language: str
) -> dict[str, Any] | None:
    """Everything the customer template needs, or None for an unknown customer."""
    ledger = read_customers(store, [customer_id])
    if ledger.customers.empty:
        return None
    stamp = pd.Timestamp(as_of)
    scores = read_latest_scores(store, [customer_id])
    settled = settled_dates(ledger.invoices, ledger.payments)  # once for the whole page
    row, notice = None, None
    if scores.empty:
        collectors = assigned_collectors(ledger, stamp)
    else:  # the facts hold the collector at t too: not computed twice
        facts = customer_facts(ledger, stamp, settled)
        row, notice = _worklist_row(scores, facts, settings, language)
        collectors = facts["collector"]
    invoices = open_invoices(ledger, scores, stamp, settled)
    activities = ledger.activities.sort_values(["date", "activity_id"], ascending=False)
    customer = records(ledger.customers)[0]
    customer["collector_now"] = str(collectors.iloc[0])
    return {
        "customer": customer,
        "row": row,
        "notice": notice,
        "balances": records(_balances(invoices).reset_index()),
        "invoices": records(invoices),
        "history": records(paid_history(ledger, settled)),
        "activities": records(activities.head(TIMELINE_ACTIVITIES)),
        "activities_total": len(activities),
        "invoice_ids": sorted(invoices["invoice_id"].astype(str)),
    }
