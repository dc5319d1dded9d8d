"""The next-action policy table: each default rule, first match wins, YAML override."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from serving.policy import DEFAULT_RULES, PolicyError, Rule, apply_policy, load_policy, when

BASE = {
    "tier": "low",
    "overdue": False,
    "open_disputes": 0,
    "broken_promises": 0,
    "days_since_broken_promise": None,
    "active_promise": False,
    "days_overdue": 0.0,
    "amount_at_risk": 10.0,
    "days_since_contact": 5.0,
}


def _action(rules: tuple[Rule, ...] = DEFAULT_RULES, **fields: object) -> tuple[str, bool]:
    rows = pd.DataFrame([BASE | fields])
    chosen = apply_policy(rows, rules).iloc[0]
    return str(chosen["next_action"]), bool(chosen["snoozed"])


@pytest.mark.parametrize(
    ("fields", "expected"),
    [
        ({"open_disputes": 1, "active_promise": True, "tier": "high"}, ("dispute handling", False)),
        ({"active_promise": True, "overdue": True, "broken_promises": 2}, ("dunning block", True)),
        ({"overdue": True, "broken_promises": 1, "tier": "low"}, ("escalate", False)),
        ({"tier": "high", "overdue": False}, ("courtesy call before due", False)),
        ({"tier": "high", "overdue": True}, ("call", False)),
        ({"tier": "medium", "overdue": True}, ("call", False)),
        ({"tier": "medium", "overdue": False}, ("automated reminder only", False)),
        ({"tier": "low", "overdue": True}, ("automated reminder only", False)),
    ],
)
def test_default_rules_first_match_wins(fields: dict[str, object], expected: tuple) -> None:
    assert _action(**fields) == expected


def test_rows_keep_their_index_and_unmatched_rows_get_no_action() -> None:
    rules = (Rule("only_high", "call", when(tier="high")),)
    rows = pd.DataFrame([BASE | {"tier": "high"}, BASE], index=["C9", "C3"])
    chosen = apply_policy(rows, rules)
    assert list(chosen.index) == ["C9", "C3"]
    assert chosen.loc["C9", "next_action"] == "call"
    assert pd.isna(chosen.loc["C3", "next_action"])


def test_yaml_override(tmp_path: Path) -> None:
    path = tmp_path / "policy.yaml"
    path.write_text(
        "- name: long_silence\n"
        "  action: visit\n"
        "  when: {days_since_contact: {gt: 30}, tier: {in: [high, medium]}}\n"
        "- name: rest\n"
        "  action: wait\n",
        encoding="utf-8",
    )
    rules = load_policy(path)
    assert [rule.name for rule in rules] == ["long_silence", "rest"]
    assert _action(rules, days_since_contact=31.0, tier="medium") == ("visit", False)
    assert _action(rules, days_since_contact=30.0, tier="medium") == ("wait", False)


def test_unknown_field_or_operator_is_refused() -> None:
    with pytest.raises(PolicyError, match="unknown policy field 'mood'"):
        when(mood="angry")
    with pytest.raises(PolicyError, match="unknown operator 'like'"):
        when(tier={"like": "h%"})


def test_default_when_no_file() -> None:
    assert load_policy(None) == DEFAULT_RULES


def test_recently_broken_promise_rule() -> None:
    rules = (
        Rule("recent", "escalate", when(overdue=True, days_since_broken_promise={"le": 90})),
        Rule("rest", "call", ()),
    )
    assert _action(rules, overdue=True, days_since_broken_promise=30.0)[0] == "escalate"
    assert _action(rules, overdue=True, days_since_broken_promise=120.0)[0] == "call"
    assert _action(rules, overdue=True, days_since_broken_promise=None)[0] == "call"
