"""ledger_stats on small inline ledgers: exact counts, shares, percentiles and stress flags."""

from __future__ import annotations

import math
from pathlib import Path

import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from ledger import stats as stats_module
from ledger.frames import Ledger
from ledger.stats import ALL, ledger_stats
from ledger.store import LedgerStore
from payrisk.commands import _common
from payrisk.commands.ledger_stats import stats

AS_OF = pd.Timestamp("2024-03-31")


def _five_invoices(with_payments: bool = True) -> Ledger:
    """Two customers, two currencies, five invoices.

    At 2024-03-31: I1 paid on time, I2 paid 10 days late, I3 open with 50 paid on it,
    I4 settled late (11 days) by two payments and no paid_date, I5 paid after the
    cutoff (so open then, 15 days late later).
    """
    customers = pd.DataFrame(
        {"customer_id": ["C1", "C2"], "currency": ["USD", "ILS"], "country": ["US", "IL"]}
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4", "I5"],
            "customer_id": ["C1", "C1", "C1", "C2", "C2"],
            "issue_date": ["2024-01-01", "2024-01-05", "2024-02-01", "2024-01-10", "2024-03-01"],
            "due_date": ["2024-01-31", "2024-02-04", "2024-03-02", "2024-02-09", "2024-03-31"],
            "amount": [100.0, 200.0, 300.0, 1000.0, 500.0],
            "currency": ["USD", "USD", "USD", "ILS", None],  # I5: from the customer
            "paid_date": ["2024-01-20", "2024-02-14", None, None, "2024-04-15"],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P1", "P2", "P3", "P4", "P5", "P6"],
            "customer_id": ["C1", "C1", "C1", "C2", "C2", "C2"],
            "invoice_id": ["I1", "I2", "I3", "I4", "I4", "I5"],
            "payment_date": [
                "2024-01-20",
                "2024-02-14",
                "2024-03-10",
                "2024-02-01",
                "2024-02-20",
                "2024-04-15",
            ],
            "amount": [100.0, 200.0, 50.0, 400.0, 600.0, 500.0],
        }
    )
    if not with_payments:
        invoices = invoices.assign(paid_date=invoices["paid_date"].fillna("2024-02-20"))
        invoices.loc[invoices["invoice_id"] == "I3", "paid_date"] = None
        return Ledger.from_frames(customers=customers, invoices=invoices)
    return Ledger.from_frames(customers=customers, invoices=invoices, payments=payments)


def test_counts_open_and_late_shares_by_currency() -> None:
    result = ledger_stats(_five_invoices(), as_of=AS_OF)

    assert result.row_counts == {"customers": 2, "invoices": 5, "payments": 6, "activities": 0}
    assert result.first_date == pd.Timestamp("2024-01-01")
    assert result.last_date == AS_OF
    usd, ils, everything = (result.summary.loc[key] for key in ("USD", "ILS", ALL))
    assert (usd["invoices"], usd["paid"], usd["open_count"]) == (3, 2, 1)
    assert usd["open_amount"] == 250.0  # I3: 300 less the 50 paid on it
    assert usd["late_share_count"] == 0.5  # I2 of I1, I2
    assert usd["late_share_amount"] == pytest.approx(200 / 300)
    assert (ils["invoices"], ils["paid"], ils["open_count"], ils["open_amount"]) == (2, 1, 1, 500)
    assert ils["late_share_count"] == 1.0  # I4, settled by its payments 11 days late
    assert (everything["customers"], everything["invoices"], everything["paid"]) == (2, 5, 3)
    assert everything["open_count"] == 2
    assert everything["late_share_count"] == pytest.approx(2 / 3)
    # two currencies: no amount is summed across them
    assert math.isnan(everything["open_amount"])
    assert math.isnan(everything["late_share_amount"])


def test_facts_after_as_of_are_ignored_and_default_is_the_last_date() -> None:
    ledger = _five_invoices()

    later = ledger_stats(ledger)  # last date: I5 paid 2024-04-15

    assert later.as_of == pd.Timestamp("2024-04-15")
    ils = later.summary.loc["ILS"]
    assert (ils["paid"], ils["open_count"], ils["late_share_count"]) == (2, 0, 1.0)
    early = ledger_stats(ledger, as_of=pd.Timestamp("2024-01-31")).summary.loc[ALL]
    # by Jan 31: I1 paid, I2 (issued Jan 5) and I4 open, I3 and I5 not issued yet
    assert (early["invoices"], early["paid"], early["open_count"]) == (3, 1, 2)
    assert early["late_share_count"] == 0.0


def test_an_invoices_only_ledger_works() -> None:
    result = ledger_stats(_five_invoices(with_payments=False), as_of=AS_OF)

    assert result.row_counts["payments"] == 0
    usd = result.summary.loc["USD"]
    assert (usd["paid"], usd["open_count"], usd["open_amount"]) == (2, 1, 300.0)
    assert result.summary.loc["ILS", "late_share_count"] == 1.0  # I4 paid 2024-02-20


def test_customer_late_rate_percentiles(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(stats_module, "MIN_PAID_FOR_RATE", 1)

    overall = ledger_stats(_five_invoices(), as_of=AS_OF).overall

    # C1: 1 of 2 paid late, C2: 1 of 1; linear percentiles of (0.5, 1.0)
    assert overall["rated_customers"] == 2
    assert overall["late_rate_p10"] == pytest.approx(0.55)
    assert overall["late_rate_p50"] == pytest.approx(0.75)
    assert overall["late_rate_p90"] == pytest.approx(0.95)


def test_customers_with_too_few_paid_invoices_get_no_rate() -> None:
    overall = ledger_stats(_five_invoices(), as_of=AS_OF).overall

    assert overall["rated_customers"] == 0
    assert math.isnan(overall["late_rate_p50"])


def _stress_ledger() -> Ledger:
    """Jan-Jun 2024. S: payments halve and an invoice goes 60 days overdue -> stressed.

    K: steady payments (not stressed). D: payments halve but it stays on time (not
    stressed: the drop alone is no stress signal).
    """
    invoices = pd.DataFrame(
        {
            "invoice_id": ["S1", "S2", "K1", "K2", "D1", "D2"],
            "customer_id": ["S", "S", "K", "K", "D", "D"],
            "issue_date": ["2024-01-01", "2024-04-01"] * 3,
            "due_date": ["2024-01-15", "2024-05-01"] * 3,
            "amount": [100.0] * 6,
            "paid_date": [
                "2024-01-15",
                None,
                "2024-01-15",
                "2024-05-01",
                "2024-01-15",
                "2024-05-01",
            ],
        }
    )
    days = ["05", "20"]
    first_half = [f"2024-0{month}-{day}" for month in (1, 2, 3) for day in days]
    second_half = [f"2024-0{month}-{day}" for month in (4, 5, 6) for day in days]
    dates = {"S": first_half + second_half[:2], "K": first_half + second_half}
    dates["D"] = dates["S"]
    rows = [(customer, date) for customer, when in dates.items() for date in when]
    payments = pd.DataFrame(
        {
            "payment_id": [f"P{number}" for number in range(len(rows))],
            "customer_id": [customer for customer, _ in rows],
            "payment_date": [date for _, date in rows],
            "amount": 100.0,
        }
    )
    return Ledger.from_frames(invoices=invoices, payments=payments)


def test_stress_needs_a_payment_drop_and_rising_days_late() -> None:
    result = ledger_stats(_stress_ledger(), as_of=pd.Timestamp("2024-06-30"))

    # S: Jan-Mar paid 600 in 6 payments, Apr-Jun 200; days late 0 -> 60 (S2 open at Jun 30)
    assert result.stressed_customer_ids == ("S",)
    assert result.overall["stressed_customers"] == 1


def test_stress_is_not_flagged_before_the_evidence_exists() -> None:
    # At May 31 the window Mar-May is compared with Dec-Feb, which starts before the data
    result = ledger_stats(_stress_ledger(), as_of=pd.Timestamp("2024-05-31"))

    assert result.stressed_customer_ids == ()


def test_an_empty_ledger_has_counts_and_no_dates() -> None:
    result = ledger_stats(Ledger.from_frames())

    assert result.row_counts == dict.fromkeys(result.row_counts, 0)
    assert result.as_of is None
    assert result.stressed_customer_ids == ()


def test_stats_command_prints_the_stored_ledger(
    payrisk_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_common.console, "_width", 200)
    payrisk_env.mkdir(parents=True)
    with LedgerStore.from_url(f"sqlite:///{payrisk_env / 'payrisk.db'}") as store:
        store.migrate()
        store.upsert(_five_invoices())
    app = typer.Typer()
    app.command()(stats)
    app.command("other")(lambda: None)  # two commands, so `stats` is a sub-command

    result = CliRunner().invoke(app, ["stats", "--as-of", "2024-03-31"])

    assert result.exit_code == 0, result.output
    assert "invoices 5, payments 6" in result.stdout
    assert "│ USD      │         1 │        3 │    1 │         250 │  50.0% │    66.7% │" in (
        result.stdout
    )


def test_stats_command_without_a_database_says_what_to_do(payrisk_env: Path) -> None:
    app = typer.Typer()
    app.command()(stats)
    app.command("other")(lambda: None)

    result = CliRunner().invoke(app, ["stats"])

    assert result.exit_code == 1
    assert "payrisk ledger import" in result.stderr
