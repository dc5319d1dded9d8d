"""The collections worklist: customers ranked by expected amount at risk, with what to do.

``rank_worklist`` is pure: the latest stored scores (one row per open invoice), the ledger
and the policy in, one row per customer out. Expected amount at risk = sum over the
customer's scored open invoices of ``open_amount x p_over_30`` (P(> 30 days late)),
converted to the reporting currency. Everything else is read from the ledger as of t:
the collector (latest ``reassign`` activity dated <= t, else ``customers.collector``),
overdue invoices, open disputes, promises (``serving.promises``) and the last contact.
The tier is ``models.rollup``'s, the same as the scoring API's. Reading the scores and
the ledger from the database happens in ``serving.worklist_reads``, and filtering the
ranked list in ``serving.worklist_filters``, not here.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from ledger.frames import Ledger
from ledger.settlement import settled_dates
from models.rollup import MissingRateError as MissingRateError  # re-exported
from models.rollup import RiskTiers, customer_rollup
from models.rollup import to_reporting as to_reporting  # re-exported
from serving.policy import Rule, apply_policy
from serving.promises import promise_summary

CONTACT_KINDS = ("call", "reminder", "promise", "note")
REASSIGN_KIND = "reassign"
UNASSIGNED = "unassigned"
TOP_REASONS = 3
CUSTOMER_COLUMNS = ("name", "segment", "country", "currency")


@dataclass(frozen=True)
class WorklistParams:
    """The knobs of the worklist (from ``Settings``): the tiers and collector capacity."""

    risk_tiers: RiskTiers = field(default_factory=RiskTiers)
    calls_per_collector_per_day: int = 25

    @classmethod
    def from_settings(cls, settings: Any) -> WorklistParams:
        """The params of a ``payrisk.settings.Settings``."""
        return cls(
            risk_tiers=RiskTiers.from_settings(settings),
            calls_per_collector_per_day=settings.calls_per_collector_per_day,
        )

    @property
    def reporting_currency(self) -> str:
        """The currency amounts are ranked and reported in."""
        return self.risk_tiers.reporting_currency

    @property
    def fx_rates(self) -> Mapping[str, float]:
        """Units of the reporting currency per 1 unit of each currency."""
        return self.risk_tiers.fx_rates


def assigned_collectors(ledger: Ledger, as_of: pd.Timestamp) -> pd.Series:
    """Per customer id, its collector at ``as_of``: the latest reassignment, else the default."""
    activities = ledger.activities
    kinds = activities["kind"].str.strip().str.lower()
    moves = activities.loc[
        (kinds == REASSIGN_KIND).fillna(False)
        & (activities["date"] <= as_of)
        & activities["text"].notna()
    ]
    latest = moves.sort_values(["date", "activity_id"], kind="stable").groupby("customer_id")
    reassigned = latest["text"].last().str.strip()
    default = ledger.customers.set_index("customer_id")["collector"]
    collectors = reassigned.combine_first(default).reindex(default.index)
    return collectors.fillna(UNASSIGNED).astype("string")


def _reasons_of(value: Any, language: str = "en") -> list[str]:
    """Reason texts from one stored reasons value (JSON text, list of dicts or strings)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return [value]
    if isinstance(value, Mapping):  # {"method": ..., "en": [...], "he": [...]}
        value = value.get(language) or value.get("en") or []
    if not isinstance(value, list):
        return []
    texts = [
        item.get("text") or item.get("en") if isinstance(item, dict) else item for item in value
    ]
    return [str(text) for text in texts if text]


def customer_risk(scores: pd.DataFrame, params: WorklistParams) -> pd.DataFrame:
    """Per customer: open amount and amount at risk (reporting currency), tier, top reasons.

    Amount at risk and tier are ``models.rollup.customer_rollup``'s, as in the scoring
    API. Raises ``MissingRateError`` for a currency without a rate: a ranking across
    currencies needs every rate.
    """
    open_amount = to_reporting(
        scores["open_amount"], scores["currency"], params.reporting_currency, params.fx_rates
    )
    rollup = customer_rollup(scores, params.risk_tiers).set_index("customer_id")
    at_risk = open_amount * scores["p_over_30"].astype("float64")
    rows = scores.assign(open_rep=open_amount, at_risk=at_risk)
    # The reasons of the invoice that carries the most risk speak for the customer.
    leading = rows.sort_values(["at_risk", "invoice_id"], ascending=[False, True], kind="stable")
    reasons = leading.groupby("customer_id")["reasons"].first().map(_reasons_of)
    return pd.DataFrame(
        {
            "open_amount": rows.groupby("customer_id")["open_rep"].sum(),
            "amount_at_risk": rollup["amount_at_risk"],
            "tier": rollup["risk_tier"].astype("string"),
            "reasons": reasons.map(lambda texts: texts[:TOP_REASONS]),
        }
    )


def customer_facts(
    ledger: Ledger, as_of: pd.Timestamp | str, settled: pd.Series | None = None
) -> pd.DataFrame:
    """Per customer of the ledger at t: who, collector, overdue, disputes, promises, contact.

    Index customer_id; columns ``CUSTOMER_COLUMNS``, ``collector`` (at t),
    ``default_collector`` and the policy facts. Everything the worklist needs besides
    the scores, so it can be computed once per ledger revision and as-of date.
    ``settled``: the invoices' ``settled_dates``, when the caller has them already.
    """
    as_of = pd.Timestamp(as_of).normalize()
    invoices = ledger.invoices
    if settled is None:
        settled = settled_dates(invoices, ledger.payments)
    open_at = (invoices["issue_date"] <= as_of) & ~(settled <= as_of)
    late_days = (as_of - invoices["due_date"]).dt.days.where(open_at)
    days_overdue = late_days.groupby(invoices["customer_id"]).max()
    acts = ledger.activities.loc[ledger.activities["date"] <= as_of]
    kinds = acts["kind"].str.strip().str.lower()
    # An activity without a kind (allowed) compares as NA: count it as neither.
    opened = (kinds == "dispute_opened").fillna(False).astype(int)
    delta = opened - (kinds == "dispute_resolved").fillna(False).astype(int)
    disputes = delta.groupby(acts["customer_id"]).sum().clip(lower=0)
    contact = acts.loc[kinds.isin(CONTACT_KINDS).fillna(False)]
    last_contact = contact.groupby("customer_id")["date"].max()
    promises = promise_summary(ledger, as_of, settled)
    customers = ledger.customers.set_index("customer_id")
    facts = pd.DataFrame(index=customers.index.to_numpy())
    for column in CUSTOMER_COLUMNS:
        facts[column] = customers[column].astype("string").to_numpy()
    facts["collector"] = assigned_collectors(ledger, as_of).reindex(facts.index).to_numpy()
    facts["default_collector"] = customers["collector"].astype("string").to_numpy()
    facts["days_overdue"] = days_overdue.reindex(facts.index).clip(lower=0)
    facts["overdue"] = facts["days_overdue"].fillna(0) > 0
    facts["open_disputes"] = disputes.reindex(facts.index).fillna(0).astype("int64")
    facts["broken_promises"] = (
        promises["broken_promises"].reindex(facts.index).fillna(0).astype("int64")
    )
    facts["snoozed_until"] = promises["active_promise_until"].reindex(facts.index)
    facts["active_promise"] = facts["snoozed_until"].notna()
    # float64 always (NaN: never), not int64 only when every customer has one: a
    # customer's facts must not depend on the others' (``serving.worklist_facts``)
    since_contact = (as_of - last_contact.reindex(facts.index)).dt.days
    facts["days_since_contact"] = since_contact.astype("float64")
    last_broken = promises["last_broken_date"].reindex(facts.index)
    facts["days_since_broken_promise"] = (as_of - last_broken).dt.days.astype("float64")
    facts.index.name = "customer_id"
    return facts


def _split_by_capacity(ranked: pd.DataFrame, calls_per_day: int) -> pd.Series:
    """Section of each ranked row: today (within its collector's capacity), later, snoozed."""
    active = ~ranked["snoozed"]
    place = active.astype(int).groupby(ranked["collector"]).cumsum()
    section = np.where(~active, "snoozed", np.where(place <= calls_per_day, "today", "later"))
    return pd.Series(section, index=ranked.index, dtype="string")


def rank_worklist(
    scores: pd.DataFrame,
    ledger: Ledger,
    rules: Sequence[Rule],
    params: WorklistParams,
    as_of: pd.Timestamp | str,
    settled: pd.Series | None = None,
) -> pd.DataFrame:
    """One row per scored customer, ranked: not snoozed first, by amount at risk (desc).

    ``scores``: the latest stored score per open invoice (customer_id, invoice_id,
    open_amount, currency, p_over_30, reasons). Amounts are in the reporting currency.
    Ties break by customer id. ``section`` splits each collector's list by capacity.
    ``settled``: the invoices' ``settled_dates``, when the caller has them already.
    """
    if scores.empty:
        return _empty_worklist()
    return rank_customers(scores, customer_facts(ledger, as_of, settled), rules, params)


def rank_customers(
    scores: pd.DataFrame, facts: pd.DataFrame, rules: Sequence[Rule], params: WorklistParams
) -> pd.DataFrame:
    """``rank_worklist`` on ``customer_facts`` computed beforehand (at the same as-of date)."""
    if scores.empty:
        return _empty_worklist()
    rows = customer_risk(scores, params).join(facts, how="left")
    rows["collector"] = rows["collector"].fillna(UNASSIGNED)
    rows["overdue"] = rows["overdue"].fillna(False).astype(bool)
    rows["active_promise"] = rows["active_promise"].fillna(False).astype(bool)
    rows = rows.join(apply_policy(rows, rules))
    rows["snoozed_until"] = rows["snoozed_until"].where(rows["snoozed"])
    rows.index.name = "customer_id"
    ranked = rows.reset_index().sort_values(
        ["snoozed", "amount_at_risk", "customer_id"],
        ascending=[True, False, True],
        kind="stable",
        ignore_index=True,
    )
    ranked.insert(0, "rank", np.arange(1, len(ranked) + 1))
    ranked["section"] = _split_by_capacity(ranked, params.calls_per_collector_per_day)
    return ranked[list(WORKLIST_COLUMNS)]


WORKLIST_COLUMNS = (
    "rank",
    "customer_id",
    "name",
    "collector",
    "section",
    "tier",
    "amount_at_risk",
    "open_amount",
    "next_action",
    "policy_rule",
    "snoozed",
    "snoozed_until",
    "reasons",
    "days_overdue",
    "overdue",
    "open_disputes",
    "broken_promises",
    "days_since_broken_promise",
    "active_promise",
    "days_since_contact",
    "segment",
    "country",
    "currency",
)


def _empty_worklist() -> pd.DataFrame:
    return pd.DataFrame({column: pd.Series(dtype=object) for column in WORKLIST_COLUMNS})
