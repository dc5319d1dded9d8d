"""Collector actions: check one logged activity and store it with who logged it.

A call, a promise to pay, a dispute opened or resolved, a note or a (re)assignment is
stored as a ledger activity (``reassign``: ``text`` is the new collector), plus its
author (``created_by``: the API key's name) and time (``created_at``, server side).
A promise needs a promised date not in the past and an amount > 0; the ledger's own
rules (kinds, references) are the ingest's (``serving.ingest.check_rows``).
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ledger.contract import ACTIVITIES
from ledger.db_schema import ACTIVITY_AUTHOR_COLUMN, SQL_TABLES, sql_values
from ledger.errors import PayriskError
from ledger.frames import conform
from ledger.store import LedgerStore
from serving.ingest import check_rows


class ActionRejected(PayriskError):
    """An action that cannot be stored; ``problems`` are (field, reason) pairs."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        self.problems = problems
        super().__init__("; ".join(f"{field}: {reason}" for field, reason in problems))


class UnknownCustomer(PayriskError):
    """An action for a customer the ledger does not have."""


@dataclass(frozen=True)
class Action:
    """What a collector logged; ``collector`` only for kind ``reassign``."""

    customer_id: str
    kind: str
    date: dt.date
    invoice_id: str | None = None
    promised_date: dt.date | None = None
    promised_amount: float | None = None
    text: str | None = None
    collector: str | None = None


def action_problems(action: Action, today: dt.date) -> list[tuple[str, str]]:
    """(field, reason) for every rule the action breaks; empty when it can be stored."""
    problems = []
    if action.kind == "promise":
        if action.promised_date is None:
            problems.append(("promised_date", "a promise to pay needs a promised date"))
        elif action.promised_date < today:
            problems.append(
                ("promised_date", f"{action.promised_date} is in the past (today is {today})")
            )
        if action.promised_amount is None or not action.promised_amount > 0:
            problems.append(("promised_amount", "a promise to pay needs an amount > 0"))
    elif action.promised_date is not None or action.promised_amount is not None:
        problems.append(("kind", "only a promise has a promised date or amount"))
    if action.kind == "reassign" and not (action.collector or "").strip():
        problems.append(("collector", "a reassignment needs the new collector"))
    if action.date > today:
        problems.append(("date", f"{action.date} is in the future (today is {today})"))
    return problems


def _activity_frame(action: Action, activity_id: str) -> pd.DataFrame:
    text = (
        action.collector.strip() if action.kind == "reassign" and action.collector else action.text
    )
    row = {
        "activity_id": activity_id,
        "customer_id": action.customer_id,
        "invoice_id": action.invoice_id,
        "date": pd.Timestamp(action.date),
        "kind": action.kind,
        "promised_date": pd.Timestamp(action.promised_date) if action.promised_date else None,
        "promised_amount": action.promised_amount,
        "text": text,
    }
    return conform(ACTIVITIES, pd.DataFrame([row]))


def _check_invoice_owner(store: LedgerStore, action: Action) -> None:
    """An action naming an invoice must name one of the customer's own."""
    if action.invoice_id is None:
        return
    invoices = SQL_TABLES["invoices"]
    query = sa.select(invoices.c.customer_id).where(invoices.c.invoice_id == action.invoice_id)
    with store.engine.connect() as connection:
        owner = connection.execute(query).scalar_one_or_none()
    if owner is None:
        raise ActionRejected([("invoice_id", f"unknown invoice {action.invoice_id!r}")])
    if owner != action.customer_id:
        raise ActionRejected(
            [("invoice_id", f"invoice {action.invoice_id!r} belongs to customer {owner!r}")]
        )


def log_action(store: LedgerStore, action: Action, author: str, today: dt.date) -> dict[str, Any]:
    """Check and store one action; returns the stored activity with author and time."""
    problems = action_problems(action, today)
    if problems:
        raise ActionRejected(problems)
    if not store.ids_present("customers", [action.customer_id]):
        raise UnknownCustomer(f"unknown customer {action.customer_id!r}")
    _check_invoice_owner(store, action)
    activity_id = f"act-{uuid.uuid4().hex[:16]}"
    frame = _activity_frame(action, activity_id)
    # Raises IngestRejected (kinds, an invoice that does not exist, ...): nothing stored.
    check_rows(store, {"activities": frame})
    values: dict[str, Any] = {
        column.name: sql_values(column, frame[column.name])[0] for column in ACTIVITIES.columns
    }
    values[ACTIVITY_AUTHOR_COLUMN] = author
    table = SQL_TABLES["activities"]
    with store.engine.begin() as connection:
        connection.execute(table.insert().values(**values))
        created_at: dt.datetime = connection.execute(
            sa.select(table.c.created_at).where(table.c.activity_id == activity_id)
        ).scalar_one()
    stored = frame.iloc[0]
    return {
        "activity_id": activity_id,
        "customer_id": action.customer_id,
        "kind": action.kind,
        "date": action.date,
        "invoice_id": action.invoice_id,
        "promised_date": action.promised_date,
        "promised_amount": action.promised_amount,
        "text": None if pd.isna(stored["text"]) else str(stored["text"]),
        "created_by": author,
        "created_at": created_at,
    }
