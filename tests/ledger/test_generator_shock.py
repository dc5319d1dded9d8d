"""The generator's optional market shock: off by default, worse discipline from a date on."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ledger.errors import PayriskError
from ledger.synthetic import GeneratedLedger, GeneratorConfig, generate_ledger, read_oracle
from payrisk.cli import app

END = date(2025, 12, 31)
SHOCK = date(2025, 6, 1)


def _config(shock_date: date | None = None, shock_strength: float = 1.0) -> GeneratorConfig:
    return GeneratorConfig(
        customers=120,
        years=2.0,
        seed=5,
        end=END,
        shock_date=shock_date,
        shock_strength=shock_strength,
    )


@pytest.fixture(scope="module")
def plain() -> GeneratedLedger:
    return generate_ledger(GeneratorConfig(customers=120, years=2.0, seed=5, end=END))


@pytest.fixture(scope="module")
def shocked() -> GeneratedLedger:
    return generate_ledger(_config(SHOCK, 1.0))


def _days_late(generated: GeneratedLedger) -> pd.Series:
    invoices = generated.ledger.invoices
    return (invoices["paid_date"] - invoices["due_date"]).dt.days


def _issued(generated: GeneratedLedger, start: str, stop: str) -> pd.Series:
    issued = generated.ledger.invoices["issue_date"]
    return (issued >= pd.Timestamp(start)) & (issued < pd.Timestamp(stop))


def test_no_shock_is_the_default_and_changes_nothing(plain: GeneratedLedger) -> None:
    explicit = generate_ledger(_config(None, 3.0))

    for name, frame in plain.ledger.tables().items():
        pd.testing.assert_frame_equal(explicit.ledger.table(name), frame, obj=name)
    pd.testing.assert_frame_equal(explicit.oracle, plain.oracle)


def test_invoices_issued_before_the_shock_are_untouched(
    plain: GeneratedLedger, shocked: GeneratedLedger
) -> None:
    before = _issued(plain, "2000-01-01", SHOCK.isoformat())

    pd.testing.assert_series_equal(_days_late(shocked)[before], _days_late(plain)[before])
    pd.testing.assert_series_equal(
        shocked.oracle["p_late_true"][before], plain.oracle["p_late_true"][before]
    )


def test_after_the_shock_invoices_are_late_more_often_and_longer(
    plain: GeneratedLedger, shocked: GeneratedLedger
) -> None:
    # fully ramped, and due early enough that most outcomes are known by the end
    after = _issued(plain, "2025-07-01", "2025-09-01")
    late_plain, late_shocked = _days_late(plain)[after], _days_late(shocked)[after]

    assert after.sum() > 150
    assert (late_shocked > 0).mean() > (late_plain > 0).mean() + 0.1
    assert late_shocked[late_shocked > 0].median() > late_plain[late_plain > 0].median()
    # the oracle reflects the shock: +1 logit on every invoice of the period
    gain = shocked.oracle["p_late_true"][after] - plain.oracle["p_late_true"][after]
    assert (gain > 0).all()
    assert gain.mean() == pytest.approx(0.2, abs=0.08)


def test_a_shock_outside_the_ledger_or_too_strong_is_a_user_error() -> None:
    with pytest.raises(PayriskError, match="shock_date 2027-01-01 is outside the ledger"):
        _config(date(2027, 1, 1))
    with pytest.raises(PayriskError, match="shock_strength must be between -5 and 5"):
        _config(SHOCK, 9.0)


def test_generate_command_takes_the_shock(
    tmp_path: Path, payrisk_env: Path, shocked: GeneratedLedger
) -> None:
    args = ["generate", "--customers", "120", "--years", "2", "--seed", "5", "--end", "2025-12-31"]
    shock = ["--shock-date", "2025-06-01", "--shock-strength", "1"]

    result = CliRunner().invoke(app, [*args, *shock, "--out", str(tmp_path), "--format", "parquet"])

    assert result.exit_code == 0, result.output
    assert "market shock from 2025-06-01" in result.stdout
    written = read_oracle(tmp_path)
    pd.testing.assert_series_equal(
        written["p_late_true"], shocked.oracle["p_late_true"], check_dtype=False
    )
