"""The next-action policy: an ordered table of rules, the first that matches wins.

Each rule names an action and the conditions (all must hold) on fields of a worklist row:

| field | meaning |
|---|---|
| ``tier`` | ``high`` / ``medium`` / ``low`` (expected amount at risk vs thresholds) |
| ``overdue`` | the customer has an open invoice past its due date at t |
| ``open_disputes`` | disputes opened and not yet resolved at t |
| ``broken_promises`` | promises to pay broken by t, ever (``serving.promises``) |
| ``days_since_broken_promise`` | days since the latest broken promise's date (None: none) |
| ``active_promise`` | a promise to pay whose date is still ahead (a dunning block) |
| ``days_overdue`` | the most days any open invoice is past due at t |
| ``amount_at_risk`` | expected amount > 30 days late, in the reporting currency |
| ``days_since_contact`` | days since the last call, reminder, promise or note |

A condition is ``field: value`` (equality) or ``field: {op: value}`` with ``op`` one of
``eq ne lt le gt ge in``. A rule with ``snooze: true`` puts the customer in the snoozed
section until their promised date. The default table (``DEFAULT_RULES``) can be replaced
by a YAML file (``worklist_policy_file`` in settings), a list like::

    - name: dispute
      action: dispute handling
      when: {open_disputes: {gt: 0}}
    - name: fallback
      action: automated reminder only
      when: {}
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import yaml

from ledger.errors import PayriskError

POLICY_FIELDS = (
    "tier",
    "overdue",
    "open_disputes",
    "broken_promises",
    "days_since_broken_promise",
    "active_promise",
    "days_overdue",
    "amount_at_risk",
    "days_since_contact",
)
_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "eq": operator.eq,
    "ne": operator.ne,
    "lt": operator.lt,
    "le": operator.le,
    "gt": operator.gt,
    "ge": operator.ge,
}
OPERATORS = (*_OPERATORS, "in")


class PolicyError(PayriskError):
    """A policy table that cannot be used: unknown field or operator, bad YAML."""


@dataclass(frozen=True)
class Condition:
    """``field op value`` on a worklist row, e.g. ``Condition("tier", "in", ("high",))``."""

    field: str
    op: str
    value: Any

    def __post_init__(self) -> None:
        if self.field not in POLICY_FIELDS:
            raise PolicyError(f"unknown policy field {self.field!r}; known: {POLICY_FIELDS}")
        if self.op not in OPERATORS:
            raise PolicyError(f"unknown operator {self.op!r} on {self.field!r}; known: {OPERATORS}")

    def mask(self, rows: pd.DataFrame) -> np.ndarray:
        """Where the condition holds (missing values never match)."""
        values = rows[self.field]
        if self.op == "in":
            matched = values.isin(list(self.value))
        else:
            matched = _OPERATORS[self.op](values, self.value)
        return np.asarray(pd.Series(matched).fillna(False), dtype=bool)


@dataclass(frozen=True)
class Rule:
    """One row of the policy table: all ``conditions`` hold -> ``action``."""

    name: str
    action: str
    conditions: tuple[Condition, ...] = field(default_factory=tuple)
    snooze: bool = False


def when(**conditions: Any) -> tuple[Condition, ...]:
    """Conditions from keywords: ``value`` means eq, ``{"gt": 0}`` names the operator."""
    parsed: list[Condition] = []
    for name, spec in conditions.items():
        if isinstance(spec, Mapping):
            parsed.extend(Condition(name, op, value) for op, value in spec.items())
        else:
            parsed.append(Condition(name, "eq", spec))
    return tuple(parsed)


DEFAULT_RULES: tuple[Rule, ...] = (
    Rule("dispute", "dispute handling", when(open_disputes={"gt": 0})),
    Rule("promise_pending", "dunning block", when(active_promise=True), snooze=True),
    Rule("promise_broken", "escalate", when(overdue=True, broken_promises={"gt": 0})),
    Rule("high_not_due", "courtesy call before due", when(tier="high", overdue=False)),
    Rule("risky_overdue", "call", when(tier={"in": ("high", "medium")}, overdue=True)),
    Rule("fallback", "automated reminder only", ()),
)
"""The default table; the last rule matches everything, so every row gets an action."""


def rules_from_data(items: Sequence[Mapping[str, Any]]) -> tuple[Rule, ...]:
    """Rules from parsed YAML/JSON: a list of {name, action, when, snooze}."""
    if not isinstance(items, Sequence) or not items:
        raise PolicyError("a policy must be a non-empty list of rules")
    rules = []
    for position, item in enumerate(items):
        if not isinstance(item, Mapping) or not {"name", "action"} <= set(item):
            raise PolicyError(f"policy rule {position} needs at least 'name' and 'action'")
        conditions = item.get("when") or {}
        if not isinstance(conditions, Mapping):
            raise PolicyError(f"policy rule {item['name']!r}: 'when' must be a mapping")
        rules.append(
            Rule(
                name=str(item["name"]),
                action=str(item["action"]),
                conditions=when(**conditions),
                snooze=bool(item.get("snooze", False)),
            )
        )
    return tuple(rules)


def load_policy(path: Path | None) -> tuple[Rule, ...]:
    """The policy table from a YAML file, or ``DEFAULT_RULES`` when ``path`` is None."""
    if path is None:
        return DEFAULT_RULES
    try:
        data = yaml.safe_load(Path(path).read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as error:
        raise PolicyError(f"cannot read the policy file {path}: {error}") from error
    return rules_from_data(data)


def apply_policy(rows: pd.DataFrame, rules: Sequence[Rule]) -> pd.DataFrame:
    """Per row, the first matching rule: columns ``next_action``, ``policy_rule``, ``snoozed``.

    ``rows`` needs the columns the rules name. Rows no rule matches get missing values.
    Returns a new frame indexed like ``rows``.
    """
    missing = sorted({c.field for r in rules for c in r.conditions} - set(rows.columns))
    if missing:
        raise PolicyError(f"the worklist rows lack the policy fields {missing}")
    chosen = np.full(len(rows), -1, dtype=np.int64)
    for position, rule in enumerate(rules):
        matched = np.ones(len(rows), dtype=bool)
        for condition in rule.conditions:
            matched &= condition.mask(rows)
        chosen = np.where((chosen < 0) & matched, position, chosen)
    actions = np.array([rule.action for rule in rules] + [None], dtype=object)
    names = np.array([rule.name for rule in rules] + [None], dtype=object)
    snoozes = np.array([rule.snooze for rule in rules] + [False], dtype=bool)
    return pd.DataFrame(
        {
            "next_action": pd.array(actions[chosen], dtype="string"),
            "policy_rule": pd.array(names[chosen], dtype="string"),
            "snoozed": snoozes[chosen],
        },
        index=rows.index,
    )
