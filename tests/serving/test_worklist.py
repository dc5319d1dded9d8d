"""The worklist ranking on a hand-made ledger and scores: order, tiers, actions, split."""

from __future__ import annotations

import json
from dataclasses import replace

import pandas as pd
import pytest

from ledger.frames import Ledger
from models.rollup import RiskTiers
from serving.policy import DEFAULT_RULES
from serving.worklist import MissingRateError, WorklistParams, rank_worklist
from serving.worklist_filters import UnknownFilterValue, filter_worklist, known_filter_values

AS_OF = "2026-03-01"
TIERS = RiskTiers(
    reporting_currency="USD",
    fx_rates={"ILS": 0.25, "EUR": 1.1},
    high_amount=1000.0,
    medium_amount=100.0,
)
PARAMS = WorklistParams(risk_tiers=TIERS, calls_per_collector_per_day=1)


def _ledger() -> Ledger:
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "name": ["Alef", "Bet", "Gimel", "Dalet"],
            "segment": ["enterprise", "smb", "smb", "enterprise"],
            "country": ["IL", "US", "US", "DE"],
            "currency": ["ILS", "USD", "USD", "EUR"],
            "collector": ["ann", "ann", "bob", "bob"],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4", "I5"],
            "customer_id": ["C1", "C2", "C2", "C3", "C4"],
            "issue_date": pd.to_datetime(["2026-01-01"] * 5),
            "due_date": pd.to_datetime(
                ["2026-03-10", "2026-02-01", "2026-03-20", "2026-02-15", "2026-02-20"]
            ),
            "amount": [8000.0, 1000.0, 500.0, 2000.0, 1000.0],
            "currency": ["ILS", "USD", "USD", "USD", "EUR"],
        }
    )
    activities = pd.DataFrame(
        {
            "activity_id": ["A1", "A2", "A3", "A4", "A5", "A6"],
            "customer_id": ["C2", "C3", "C4", "C4", "C1", "C2"],
            "invoice_id": [None, "I4", "I5", None, None, None],
            "date": pd.to_datetime(
                ["2026-02-01", "2026-02-25", "2026-02-21", "2026-02-25", "2026-02-20", "2026-02-27"]
            ),
            "kind": ["promise", "promise", "dispute_opened", "reassign", "call", "reminder"],
            "promised_date": pd.to_datetime(["2026-02-10", "2026-03-05", None, None, None, None]),
            "promised_amount": [500.0, 2000.0, None, None, None, None],
            "text": [None, None, None, "ann", None, None],
        }
    )
    return Ledger.from_frames(customers=customers, invoices=invoices, activities=activities)


def _reasons(*texts: str) -> str:
    return json.dumps([{"feature": f"f{i}", "text": text} for i, text in enumerate(texts)])


def _scores() -> pd.DataFrame:
    return pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4", "I5"],
            "customer_id": ["C1", "C2", "C2", "C3", "C4"],
            "open_amount": [8000.0, 1000.0, 500.0, 2000.0, 1000.0],
            "currency": ["ILS", "USD", "USD", "USD", "EUR"],
            "p_over_30": [0.5, 0.3, 0.2, 0.1, 0.9],
            "reasons": [
                _reasons("r1", "r2", "r3", "r4"),
                _reasons("late twice"),
                _reasons("small"),
                _reasons("x"),
                _reasons("disputed"),
            ],
        }
    )


def _worklist(params: WorklistParams = PARAMS) -> pd.DataFrame:
    return rank_worklist(_scores(), _ledger(), DEFAULT_RULES, params, AS_OF).set_index(
        "customer_id"
    )


def test_exact_order_amounts_and_tiers() -> None:
    worklist = _worklist()
    # C1 8000 ILS x 0.25 x 0.5 = 1000; C4 1000 EUR x 1.1 x 0.9 = 990;
    # C2 1000 x 0.3 + 500 x 0.2 = 400; C3 200 but snoozed by its active promise: last.
    assert list(worklist.index) == ["C1", "C4", "C2", "C3"]
    assert list(worklist["rank"]) == [1, 2, 3, 4]
    assert worklist["amount_at_risk"].tolist() == pytest.approx([1000.0, 990.0, 400.0, 200.0])
    assert worklist["open_amount"].tolist() == pytest.approx([2000.0, 1100.0, 1500.0, 2000.0])
    assert worklist["tier"].tolist() == ["high", "medium", "medium", "medium"]


def test_next_actions_and_snooze() -> None:
    worklist = _worklist()
    assert worklist["next_action"].to_dict() == {
        "C1": "courtesy call before due",
        "C4": "dispute handling",
        "C2": "escalate",
        "C3": "dunning block",
    }
    assert worklist.loc["C3", "snoozed_until"] == pd.Timestamp("2026-03-05")
    assert pd.isna(worklist.loc["C2", "snoozed_until"])


def test_collector_contact_and_reasons() -> None:
    worklist = _worklist()
    # C4 was reassigned from bob to ann on 02-25.
    assert worklist["collector"].to_dict() == {"C1": "ann", "C4": "ann", "C2": "ann", "C3": "bob"}
    assert worklist.loc["C1", "days_since_contact"] == 9
    assert worklist.loc["C2", "days_since_contact"] == 2
    assert pd.isna(worklist.loc["C4", "days_since_contact"])  # dispute and reassign only
    assert worklist.loc["C1", "reasons"] == ["r1", "r2", "r3"]
    assert worklist.loc["C2", "reasons"] == ["late twice"]  # its riskiest invoice's
    assert worklist.loc["C2", "days_overdue"] == 28
    assert worklist.loc["C2", "days_since_broken_promise"] == 19  # promised for 02-10
    assert pd.isna(worklist.loc["C1", "days_since_broken_promise"])


def test_capacity_splits_each_collectors_list() -> None:
    assert _worklist()["section"].to_dict() == {
        "C1": "today",
        "C4": "later",
        "C2": "later",
        "C3": "snoozed",
    }
    two_a_day = replace(PARAMS, calls_per_collector_per_day=2)
    assert _worklist(two_a_day)["section"].tolist() == ["today", "today", "later", "snoozed"]


def test_missing_rate_is_an_error_naming_the_currency() -> None:
    no_euro = replace(PARAMS, risk_tiers=replace(TIERS, fx_rates={"ILS": 0.25}))
    with pytest.raises(MissingRateError, match="EUR"):
        _worklist(no_euro)


def test_filters_and_unknown_values() -> None:
    worklist = _worklist().reset_index()
    known = known_filter_values(_ledger(), worklist)
    ann = filter_worklist(worklist, {"collector": "ann", "tier": None}, known)
    assert ann["customer_id"].tolist() == ["C1", "C4", "C2"]
    smb_medium = filter_worklist(worklist, {"segment": "SMB", "tier": "medium"}, known)
    assert smb_medium["customer_id"].tolist() == ["C2", "C3"]
    assert filter_worklist(worklist, {"collector": "bob", "tier": "high"}, known).empty
    with pytest.raises(UnknownFilterValue) as raised:
        filter_worklist(worklist, {"collector": "zed"}, known)
    assert raised.value.allowed == ["ann", "bob"]
    assert "zed" in str(raised.value)


def test_no_scores_gives_an_empty_list() -> None:
    empty = rank_worklist(_scores().iloc[:0], _ledger(), DEFAULT_RULES, PARAMS, AS_OF)
    assert empty.empty and "amount_at_risk" in empty.columns
