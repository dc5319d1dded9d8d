"""The customer page's action form: the raw fields as sent, and their check.

``parse_action`` turns the form into a ``serving.actions.Action`` or into errors per
field (a date that is no date, an amount that is no number); the rules on the action
itself (a promise not in the past, an amount > 0) are ``serving.actions``'.
"""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass, fields
from typing import Any

from serving.actions import Action

# Shown next to a field (and translated) instead of the checker's English reason.
FIELD_MESSAGES = {
    "promised_date": "Pick a promised date from today on.",
    "promised_amount": "Enter an amount greater than zero.",
    "collector": "Enter the new collector.",
}
FORM_KINDS = ("call", "promise", "dispute_opened", "dispute_resolved", "note", "reassign")


@dataclass(frozen=True)
class ActionForm:
    """The fields as typed in, kept to show them again next to their errors."""

    kind: str = "call"
    promised_date: str = ""
    promised_amount: str = ""
    invoice_id: str = ""
    text: str = ""
    collector: str = ""

    @classmethod
    def of(cls, values: dict[str, Any]) -> ActionForm:
        """From submitted form values (unknown ones ignored, all stripped)."""
        names = {item.name for item in fields(cls)}
        return cls(**{k: str(v).strip() for k, v in values.items() if k in names})


def _date(raw: str, field_name: str, errors: dict[str, str]) -> dt.date | None:
    if not raw:
        return None
    try:
        return dt.date.fromisoformat(raw)
    except ValueError:
        errors[field_name] = FIELD_MESSAGES[field_name]
        return None


def _amount(raw: str, errors: dict[str, str]) -> float | None:
    if not raw:
        return None
    try:
        amount = float(raw.replace(",", ""))
    except ValueError:
        errors["promised_amount"] = FIELD_MESSAGES["promised_amount"]
        return None
    if not math.isfinite(amount):
        errors["promised_amount"] = FIELD_MESSAGES["promised_amount"]
        return None
    return amount


def parse_action(
    form: ActionForm, customer_id: str, today: dt.date
) -> tuple[Action | None, dict[str, str]]:
    """The action the form describes, dated today, or None and the errors per field."""
    errors: dict[str, str] = {}
    if form.kind not in FORM_KINDS:
        errors["kind"] = f"unknown action {form.kind!r}"
    is_promise = form.kind == "promise"
    promised_date = _date(form.promised_date, "promised_date", errors) if is_promise else None
    promised_amount = _amount(form.promised_amount, errors) if is_promise else None
    if errors:
        return None, errors
    action = Action(
        customer_id=customer_id,
        kind=form.kind,
        date=today,
        invoice_id=form.invoice_id or None,
        promised_date=promised_date,
        promised_amount=promised_amount,
        text=form.text or None,
        collector=form.collector or None if form.kind == "reassign" else None,
    )
    return action, {}


def field_messages(problems: list[tuple[str, str]]) -> dict[str, str]:
    """Per field, the message to show: the form's own where it has one, else the reason."""
    return {field: FIELD_MESSAGES.get(field, reason) for field, reason in problems}
