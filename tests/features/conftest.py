"""Small inline ledgers for feature tests: dates as 'YYYY-MM-DD' strings, None = missing."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
import pytest

from features.build import build_features
from ledger.frames import Ledger

_DATE_COLUMNS = {
    "issue_date",
    "due_date",
    "paid_date",
    "payment_date",
    "date",
    "promised_date",
    "created_date",
}


def frame(records: Sequence[dict[str, Any]]) -> pd.DataFrame:
    """A DataFrame from dicts, parsing the contract's date columns."""
    data = pd.DataFrame(list(records))
    for column in _DATE_COLUMNS & set(data.columns):
        data[column] = pd.to_datetime(data[column])
    return data


def invoice(
    invoice_id: str,
    issue: str,
    due: str,
    amount: float = 100.0,
    paid: str | None = None,
    customer: str = "c1",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "invoice_id": invoice_id,
        "customer_id": customer,
        "issue_date": issue,
        "due_date": due,
        "amount": amount,
        "paid_date": paid,
        **extra,
    }


def payment(
    payment_id: str, day: str, amount: float, invoice_id: str | None, customer: str = "c1"
) -> dict[str, Any]:
    return {
        "payment_id": payment_id,
        "customer_id": customer,
        "invoice_id": invoice_id,
        "payment_date": day,
        "amount": amount,
    }


def activity(
    activity_id: str,
    day: str,
    kind: str,
    invoice_id: str | None = None,
    customer: str = "c1",
    **extra: Any,
) -> dict[str, Any]:
    return {
        "activity_id": activity_id,
        "customer_id": customer,
        "invoice_id": invoice_id,
        "date": day,
        "kind": kind,
        "promised_date": None,
        "promised_amount": None,
        **extra,
    }


def ledger_of(
    invoices: Sequence[dict[str, Any]],
    payments: Sequence[dict[str, Any]] = (),
    activities: Sequence[dict[str, Any]] = (),
    customers: Sequence[dict[str, Any]] = (),
) -> Ledger:
    tables = {"invoices": frame(invoices)}
    if payments:
        tables["payments"] = frame(payments)
    if activities:
        tables["activities"] = frame(activities)
    if customers:
        tables["customers"] = frame(customers)
    return Ledger.from_frames(**tables)


def rows_of(*pairs: tuple[str, str]) -> pd.DataFrame:
    """Rows from (invoice_id, as_of) pairs."""
    return pd.DataFrame(
        {
            "invoice_id": pd.array([invoice_id for invoice_id, _ in pairs], dtype="string"),
            "as_of": pd.to_datetime([as_of for _, as_of in pairs]),
        }
    )


def features_at(ledger: Ledger, *pairs: tuple[str, str]) -> pd.DataFrame:
    return build_features(ledger, rows_of(*pairs))


def random_ledger(seed: int) -> Ledger:
    """24 random invoices of 3 customers in 2024, 30 payments (some unapplied), 25 activities."""
    rng = np.random.default_rng(seed)
    n = 24
    customer = rng.choice(["c1", "c2", "c3"], n)
    issue = pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 120, n), unit="D")
    due = issue + pd.to_timedelta(rng.choice([0, 15, 30]), unit="D")
    late = rng.integers(-10, 40, n)
    paid = (due + pd.to_timedelta(late, unit="D")).where(late < 30).where(rng.random(n) < 0.5)
    paid = paid.where(paid.isna() | (paid >= issue), issue)
    amount = rng.choice([100.0, 250.0, 40.0], n)
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"i{k}" for k in range(n)],
            "customer_id": customer,
            "issue_date": issue,
            "due_date": due,
            "amount": amount,
            "paid_date": paid,
            "terms": rng.choice(["net30", "EOM+30"], n),
            "currency": rng.choice(["ILS", "USD"], n),
            "disputed": rng.random(n) < 0.2,
            "paperless": rng.random(n) < 0.5,
        }
    )
    pay_inv = rng.integers(0, n, 30)
    pay_day = issue[pay_inv] + pd.to_timedelta(rng.integers(0, 60, 30), unit="D")
    payments = pd.DataFrame(
        {
            "payment_id": [f"p{k}" for k in range(30)],
            "customer_id": customer[pay_inv],
            "invoice_id": pd.Series([f"i{k}" for k in pay_inv]).where(rng.random(30) < 0.85),
            "payment_date": pay_day,
            "amount": rng.choice([20.0, 40.0, 100.0], 30),
        }
    )
    act_inv = rng.integers(0, n, 25)
    kinds = rng.choice(["reminder", "promise", "dispute_opened", "dispute_resolved", "call"], 25)
    act_day = issue[act_inv] + pd.to_timedelta(rng.integers(0, 50, 25), unit="D")
    activities = pd.DataFrame(
        {
            "activity_id": [f"a{k}" for k in range(25)],
            "customer_id": customer[act_inv],
            "invoice_id": pd.Series([f"i{k}" for k in act_inv]).where(rng.random(25) < 0.7),
            "date": act_day,
            "kind": kinds,
            "promised_date": (act_day + pd.to_timedelta(rng.integers(1, 15, 25), unit="D")).where(
                kinds == "promise"
            ),
            "promised_amount": pd.Series(rng.choice([30.0, 80.0, np.nan], 25)).where(
                kinds == "promise"
            ),
        }
    )
    return Ledger.from_frames(invoices=invoices, payments=payments, activities=activities)


class Kit:
    """The helpers above, handed to tests as the ``kit`` fixture (tests are no package)."""

    frame = staticmethod(frame)
    invoice = staticmethod(invoice)
    payment = staticmethod(payment)
    activity = staticmethod(activity)
    ledger = staticmethod(ledger_of)
    rows = staticmethod(rows_of)
    features = staticmethod(features_at)
    random_ledger = staticmethod(random_ledger)


@pytest.fixture
def kit() -> type[Kit]:
    return Kit


@pytest.fixture
def three_paid_one_open() -> Ledger:
    """Customer c1: three invoices paid (10 late, 2 early, 25 late) and one open."""
    return ledger_of(
        [
            invoice("i1", "2024-01-01", "2024-01-31", 100.0, paid="2024-02-10"),
            invoice("i2", "2024-02-01", "2024-03-02", 200.0, paid="2024-02-29"),
            invoice("i3", "2024-03-01", "2024-03-31", 300.0, paid="2024-04-25"),
            invoice("i4", "2024-04-01", "2024-05-01", 400.0),
        ]
    )
