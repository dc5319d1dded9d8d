"""The synthetic generator: contract, consistency, determinism, files, and the command.

The oracle and the realism claims are in ``test_generator_realism.py``.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from ledger.contract import ACTIVITY_KINDS, TABLES
from ledger.errors import PayriskError
from ledger.frames import Ledger, conform
from ledger.importer import LedgerSources, read_ledger
from ledger.settlement import covering_payment_dates
from ledger.store import LedgerStore
from ledger.synthetic import (
    GeneratedLedger,
    GeneratorConfig,
    generate_chunks,
    generate_ledger,
    read_generated_ledger,
    read_oracle,
    write_generated,
)
from payrisk.cli import app

END = date(2026, 11, 30)
END_TS = pd.Timestamp(END)


@pytest.fixture(scope="module")
def medium() -> GeneratedLedger:
    return generate_ledger(GeneratorConfig(customers=300, years=3, seed=11, end=END))


@pytest.fixture(scope="module")
def small() -> GeneratedLedger:
    return generate_ledger(GeneratorConfig(customers=40, years=1, seed=5, end=END))


# --- contract and consistency --------------------------------------------------------


def test_tables_are_in_the_contract_shape(medium: GeneratedLedger) -> None:
    for name, frame in medium.ledger.tables().items():
        assert tuple(frame.columns) == TABLES[name].column_names
        pd.testing.assert_frame_equal(frame, conform(TABLES[name], frame))
    rebuilt = Ledger.from_frames(**medium.ledger.tables())
    pd.testing.assert_frame_equal(rebuilt.invoices, medium.ledger.invoices)


def test_ids_are_unique_readable_and_references_resolve(medium: GeneratedLedger) -> None:
    ledger = medium.ledger
    for name, frame in ledger.tables().items():
        assert frame[TABLES[name].key].is_unique, name
    assert ledger.customers["customer_id"].str.fullmatch(r"C\d{5}").all()
    assert ledger.invoices["invoice_id"].str.fullmatch(r"INV-\d{8}").all()
    assert ledger.payments["payment_id"].str.fullmatch(r"PAY-\d{8}").all()
    assert ledger.activities["activity_id"].str.fullmatch(r"ACT-\d{8}").all()
    customers = set(ledger.customers["customer_id"])
    invoices = set(ledger.invoices["invoice_id"])
    for frame in (ledger.invoices, ledger.payments, ledger.activities):
        assert set(frame["customer_id"]) <= customers
    assert set(ledger.payments["invoice_id"].dropna()) <= invoices
    assert set(ledger.activities["invoice_id"].dropna()) <= invoices


def test_dates_and_amounts_obey_the_rules(medium: GeneratedLedger) -> None:
    invoices, payments = medium.ledger.invoices, medium.ledger.payments
    assert (invoices["due_date"] >= invoices["issue_date"]).all()
    paid = invoices["paid_date"].notna()
    assert (invoices.loc[paid, "paid_date"] >= invoices.loc[paid, "issue_date"]).all()
    for amounts in (invoices["amount"], payments["amount"]):
        assert (amounts > 0).all()
        assert np.allclose(amounts, amounts.round(2), atol=1e-9)
    for dates in (invoices["issue_date"], invoices["paid_date"], payments["payment_date"]):
        assert dates.max() <= END_TS
    assert medium.ledger.activities["date"].max() <= END_TS
    assert set(medium.ledger.activities["kind"]) <= set(ACTIVITY_KINDS)


def test_paid_dates_are_exactly_where_payments_cover_the_invoice(medium: GeneratedLedger) -> None:
    invoices, payments = medium.ledger.invoices, medium.ledger.payments

    covered = covering_payment_dates(invoices, payments)

    # paid <=> covered, on the same day: the last payment lands on paid_date
    pd.testing.assert_series_equal(covered, invoices["paid_date"], check_names=False)
    applied = payments.dropna(subset=["invoice_id"])
    total = applied.groupby("invoice_id")["amount"].sum()
    amount = invoices.set_index("invoice_id")["amount"]
    paid_ids = invoices.loc[invoices["paid_date"].notna(), "invoice_id"]
    assert np.allclose(total.reindex(paid_ids), amount.reindex(paid_ids), atol=0.005)
    last_payment = applied.groupby("invoice_id")["payment_date"].max().reindex(paid_ids)
    paid_date = invoices.set_index("invoice_id")["paid_date"].reindex(paid_ids)
    pd.testing.assert_series_equal(last_payment, paid_date, check_names=False)


def test_due_dates_follow_the_terms(medium: GeneratedLedger) -> None:
    invoices = medium.ledger.invoices
    term_days = invoices["terms"].str.extract(r"(\d+)$")[0].astype(int)
    end_of_month = invoices["terms"].str.startswith("eom")
    anchor = invoices["issue_date"].where(
        ~end_of_month, invoices["issue_date"] + pd.offsets.MonthEnd(0)
    )
    expected = anchor + pd.to_timedelta(term_days, unit="D")

    pd.testing.assert_series_equal(invoices["due_date"], expected, check_names=False)
    assert set(invoices["terms"]) == {"net30", "net60", "eom+30", "eom+60", "eom+90"}


def test_a_bad_config_is_a_user_error() -> None:
    with pytest.raises(PayriskError, match="customers must be at least 1, got 0"):
        GeneratorConfig(customers=0)
    with pytest.raises(PayriskError, match="years"):
        GeneratorConfig(years=0)


# --- determinism and chunks ----------------------------------------------------------


def test_same_seed_gives_identical_files_and_another_seed_does_not(tmp_path: Path) -> None:
    config = GeneratorConfig(customers=40, years=1, seed=5, end=END)
    for folder in ("a", "b"):
        write_generated(generate_chunks(config), tmp_path / folder)
    write_generated(
        generate_ledger(GeneratorConfig(customers=40, years=1, seed=6, end=END)), tmp_path / "c"
    )

    for name in ("customers", "invoices", "payments", "activities", "truth/oracle"):
        first = (tmp_path / "a" / f"{name}.csv").read_bytes()
        assert first == (tmp_path / "b" / f"{name}.csv").read_bytes(), name
        assert first != (tmp_path / "c" / f"{name}.csv").read_bytes(), name


def test_a_chunk_does_not_depend_on_how_many_chunks_run() -> None:
    fewer = generate_ledger(
        GeneratorConfig(customers=40, years=1, seed=5, end=END, chunk_customers=20)
    )
    more = generate_ledger(
        GeneratorConfig(customers=60, years=1, seed=5, end=END, chunk_customers=20)
    )

    for name, frame in fewer.ledger.tables().items():
        head = more.ledger.table(name).iloc[: len(frame)].reset_index(drop=True)
        pd.testing.assert_frame_equal(head, frame, obj=name)
    pd.testing.assert_frame_equal(more.oracle.iloc[: len(fewer.oracle)], fewer.oracle)
    assert len(more.ledger.customers) == 60


def test_files_read_back_equal_the_ledger(tmp_path: Path, small: GeneratedLedger) -> None:
    for fmt in ("csv", "parquet"):
        counts = write_generated(small, tmp_path / fmt, fmt)

        back = read_generated_ledger(tmp_path / fmt)
        for name, frame in small.ledger.tables().items():
            pd.testing.assert_frame_equal(back.table(name), frame, obj=f"{fmt} {name}")
        oracle = read_oracle(tmp_path / fmt)
        pd.testing.assert_frame_equal(oracle, small.oracle, obj=f"{fmt} oracle", check_dtype=False)
        assert counts["invoices"] == counts["oracle"] == len(small.ledger.invoices)


def test_the_importer_takes_the_files_and_never_the_oracle(
    tmp_path: Path, small: GeneratedLedger
) -> None:
    write_generated(small, tmp_path)

    loaded = read_ledger(LedgerSources(directory=tmp_path))

    assert loaded.report.ok
    for name, frame in small.ledger.tables().items():
        assert len(loaded.ledger.table(name)) == len(frame), name
    assert loaded.ledger.invoices["amount"].sum() == pytest.approx(
        small.ledger.invoices["amount"].sum()
    )


# --- the command ---------------------------------------------------------------------


def test_generate_command_writes_files(tmp_path: Path, payrisk_env: Path) -> None:
    out = tmp_path / "ledger"
    args = ["generate", "--customers", "40", "--years", "1", "--seed", "5", "--end", "2026-11-30"]

    result = CliRunner().invoke(app, [*args, "--out", str(out)])

    assert result.exit_code == 0, result.output
    assert "invoices" in result.stdout
    written = read_generated_ledger(out)
    expected = generate_ledger(GeneratorConfig(customers=40, years=1, seed=5, end=END))
    pd.testing.assert_frame_equal(written.invoices, expected.ledger.invoices)
    assert (out / "truth" / "oracle.csv").exists()


def test_generate_command_to_db(
    tmp_path: Path, payrisk_env: Path, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYRISK_DATABASE_URL", database_url)
    args = ["generate", "--customers", "10", "--years", "1", "--seed", "2", "--end", "2026-11-30"]

    result = CliRunner().invoke(
        app, [*args, "--to-db", "--out", str(tmp_path), "--format", "parquet"]
    )

    assert result.exit_code == 0, result.output
    with LedgerStore.from_url(database_url) as store:
        stored = store.load()
    expected = generate_ledger(GeneratorConfig(customers=10, years=1, seed=2, end=END)).ledger
    for name, frame in expected.tables().items():
        assert len(stored.table(name)) == len(frame), name
    assert stored.invoices["amount"].sum() == pytest.approx(expected.invoices["amount"].sum())
    assert (tmp_path / "truth" / "oracle.parquet").exists()
    assert not (tmp_path / "invoices.parquet").exists()


def test_generate_command_rejects_a_bad_format(tmp_path: Path, payrisk_env: Path) -> None:
    result = CliRunner().invoke(app, ["generate", "--format", "xlsx", "--out", str(tmp_path)])

    assert result.exit_code == 1
    assert "xlsx" in result.stderr
