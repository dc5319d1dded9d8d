"""`payrisk ledger validate` and `payrisk ledger import` against a real SQLite database."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from typer.testing import CliRunner

from ledger.contract import TABLES
from ledger.store import LedgerStore
from payrisk.cli import app
from payrisk.commands import _common

CUSTOMERS_CSV = "customer_id,name,country,currency\nC1,אלפא,IL,ILS\nC2,Beta,US,USD\n"
INVOICES_CSV = (
    "invoice_id,customer_id,issue_date,due_date,amount,currency,paid_date\n"
    "I1,C1,2024-01-01,2024-01-31,1200.50,ILS,2024-02-03\n"
    "I2,C2,2024-01-05,2024-02-04,99.90,USD,\n"
)
PAYMENTS_CSV = "payment_id,customer_id,invoice_id,payment_date,amount\nP1,C1,I1,2024-02-03,1200.5\n"


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at 80 columns without a terminal; widen it so rows stay on one line."""
    monkeypatch.setattr(_common.console, "_width", 400)
    monkeypatch.setattr(_common.err_console, "_width", 400)


def ledger_folder(folder: Path, **files: str | bytes) -> Path:
    contents: dict[str, str | bytes] = {
        "customers.csv": CUSTOMERS_CSV,
        "invoices.csv": INVOICES_CSV,
        "payments.csv": PAYMENTS_CSV,
    }
    contents |= {name.replace("_", ".", 1): content for name, content in files.items()}
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in contents.items():
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return folder


def run(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["ledger", *args])
    return result.exit_code, result.stdout, result.stderr


def stored(data_dir: Path) -> dict[str, pd.DataFrame]:
    with LedgerStore.from_url(f"sqlite:///{data_dir / 'payrisk.db'}") as store:
        return store.load().tables()


def row(*cells: str) -> re.Pattern[str]:
    """A report table row with these cells, in order."""
    return re.compile(r"\s*│\s*".join(re.escape(cell) for cell in cells))


def test_validate_reports_each_rejected_row_and_exits_1(tmp_path: Path) -> None:
    bad = INVOICES_CSV + "I3,C9,2024-01-05,2024-01-01,-5,USD,\n"
    folder = ledger_folder(tmp_path / "data", invoices_csv=bad, oracle_csv="p_late\n0.3\n")
    code, out, err = run("validate", str(folder))
    assert code == 1
    assert row("invoices.csv", "4", "amount", "-5", "must be > 0").search(out)
    assert row(
        "invoices.csv",
        "4",
        "customer_id",
        "C9",
        "refers to customer 'C9', which is not in customers.csv",
    ).search(out)
    assert row(
        "invoices.csv", "4", "due_date", "2024-01-01", "due_date is before issue_date"
    ).search(out)
    assert row("invoices", "3", "2", "1").search(out)  # read, accepted, rejected
    assert "not ledger tables, not read: oracle.csv" in out
    assert "error: 3 value(s) rejected" in err
    assert (folder / "validation-report.csv").is_file()


def test_validate_a_good_ledger_exits_0(tmp_path: Path) -> None:
    code, out, _ = run("validate", str(ledger_folder(tmp_path)))
    assert code == 0
    assert "the ledger is valid" in out
    assert row("payments", "1", "1", "0").search(out)


def test_import_then_reimport_changes_nothing(tmp_path: Path, payrisk_env: Path) -> None:
    folder = ledger_folder(tmp_path / "data")
    code, out, err = run("import", str(folder))
    assert (code, err) == (0, "")
    assert "customers 2, invoices 2, payments 1, activities 0" in out
    first = stored(payrisk_env)
    assert first["customers"]["name"].tolist() == ["אלפא", "Beta"]
    code, out, _ = run("import", str(folder))
    assert code == 0
    for name in TABLES:
        pd.testing.assert_frame_equal(stored(payrisk_env)[name], first[name])


def test_import_invoices_only_with_a_mapping_file(tmp_path: Path, payrisk_env: Path) -> None:
    mapping = tmp_path / "erp.yaml"
    mapping.write_text(
        "date_format: eu\ncolumns:\n  invoices:\n    מספר חשבונית: invoice_id\n"
        "    לקוח: customer_id\nvalues:\n  terms: {שוטף+60: eom+60}\n",
        encoding="utf-8",
    )
    invoices = tmp_path / "export.csv"
    invoices.write_text(
        "מספר חשבונית,לקוח,issue_date,due_date,amount,currency,terms\n"
        "1001,ל-17,31/01/2024,31/03/2024,100,ILS,שוטף+60\n",
        encoding="utf-8",
    )
    code, out, _ = run("import", "--invoices", str(invoices), "--mapping", str(mapping))
    assert code == 0, out
    assert "1 new customer(s) derived from the invoices" in out
    ledger = stored(payrisk_env)
    assert ledger["customers"][["customer_id", "currency"]].values.tolist() == [["ל-17", "ILS"]]
    assert ledger["invoices"][["invoice_id", "terms"]].values.tolist() == [["1001", "eom+60"]]
    assert ledger["invoices"]["due_date"].tolist() == [pd.Timestamp("2024-03-31")]


DUPLICATE = "duplicate invoice_id: the same id is also on line "
BAD_INPUTS = {
    "malformed csv": (
        {"invoices_csv": INVOICES_CSV + "I3,C1,2024-01-05,2024-02-04,5,USD,,extra\n"},
        (),
        ["invoices.csv line 4: malformed CSV: expected 7 fields as in the header, found 8"],
    ),
    "missing required column": (
        {"invoices_csv": "invoice_id,customer_id,issue_date,amount\nI3,C1,2024-01-05,5\n"},
        (),
        ["invoices.csv line 1: required column 'due_date' of the invoices table is missing"],
    ),
    "unknown column in the mapping": (
        {},
        ("--map", "Kunde=invoices.client"),
        [
            "--map Kunde=invoices.client: unknown column 'invoices.client'",
            "valid columns are invoices: invoice_id, customer_id",
        ],
    ),
    "unparseable date": (
        {"invoices_csv": INVOICES_CSV + "I3,C1,2024-13-45,2024-02-04,5,USD,\n"},
        (),
        [("invoices.csv", "4", "issue_date", "2024-13-45", "not a date in the iso format")],
    ),
    "unparseable number": (
        {"invoices_csv": INVOICES_CSV + "I3,C1,2024-01-05,2024-02-04,12$,USD,\n"},
        (),
        [("invoices.csv", "4", "amount", "12$", "not a number (decimal separator '.')")],
    ),
    "duplicate id": (
        {"invoices_csv": INVOICES_CSV + "I1,C1,2024-01-05,2024-02-04,5,USD,\n"},
        (),
        [
            ("invoices.csv", "2", "invoice_id", "I1", DUPLICATE + "4"),
            ("invoices.csv", "4", "invoice_id", "I1", DUPLICATE + "2"),
        ],
    ),
    "orphan invoice": (
        {"invoices_csv": INVOICES_CSV + "I3,C7,2024-01-05,2024-02-04,5,USD,\n"},
        (),
        [
            (
                "invoices.csv",
                "4",
                "customer_id",
                "C7",
                "refers to customer 'C7', which is not in customers.csv nor in the database",
            )
        ],
    ),
    "negative amount": (
        {"payments_csv": PAYMENTS_CSV + "P2,C2,I2,2024-02-05,-10\n"},
        (),
        [("payments.csv", "3", "amount", "-10", "must be > 0")],
    ),
    "empty file": (
        {"payments_csv": b""},
        (),
        ["payments.csv: the file is empty (0 bytes), expected a header line"],
    ),
    "header only": (
        {"payments_csv": "payment_id,customer_id,invoice_id,payment_date,amount\n"},
        (),
        ["payments.csv: the file has a header line but no data rows"],
    ),
    "wrong encoding": (
        {"customers_csv": CUSTOMERS_CSV.encode("cp1255")},
        (),
        [
            "customers.csv line 2: the file is not valid utf-8 text (byte 37,",
            "pass the file's encoding with --encoding",
        ],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_exits_non_zero_and_leaves_the_database_unchanged(
    case: str, tmp_path: Path, payrisk_env: Path
) -> None:
    assert run("import", str(ledger_folder(tmp_path / "good")))[0] == 0
    before = stored(payrisk_env)
    files, options, expected = BAD_INPUTS[case]
    code, out, err = run("import", str(ledger_folder(tmp_path / "bad", **files)), *options)
    assert code == 1
    for part in expected:
        if isinstance(part, tuple):
            assert row(*part).search(out), out
            assert "nothing was written" in err
        else:
            assert part in err, err
    after = stored(payrisk_env)
    for name in TABLES:
        pd.testing.assert_frame_equal(after[name], before[name])


def test_long_reports_are_cut_at_50_rows(tmp_path: Path, payrisk_env: Path) -> None:
    extra = "".join(f"X{i},C1,2024-01-05,2024-02-04,-1,USD,\n" for i in range(60))
    folder = ledger_folder(tmp_path / "data", invoices_csv=INVOICES_CSV + extra)
    code, out, _ = run("import", str(folder))
    assert code == 1
    assert f"... and 10 more (see {folder / 'import-report.csv'})" in out
    assert len(pd.read_csv(folder / "import-report.csv", encoding="utf-8-sig")) == 60
    with LedgerStore.from_url(f"sqlite:///{payrisk_env / 'payrisk.db'}") as store:
        assert store.revision() is None  # a fresh database is not even migrated


def test_skip_invalid_imports_the_good_rows(tmp_path: Path, payrisk_env: Path) -> None:
    bad = INVOICES_CSV + "I3,C1,2024-01-05,2024-02-04,-5,USD,\n"
    folder = ledger_folder(tmp_path / "data", invoices_csv=bad)
    reports = tmp_path / "reports"
    code, out, _ = run("import", str(folder), "--skip-invalid", "--report-dir", str(reports))
    assert code == 0
    assert f"rejected invoices rows written to {reports / 'rejected-invoices.csv'}" in out
    assert stored(payrisk_env)["invoices"]["invoice_id"].tolist() == ["I1", "I2"]
    rejected = pd.read_csv(reports / "rejected-invoices.csv", encoding="utf-8-sig", dtype=str)
    assert rejected[["invoice_id", "line", "reason"]].values.tolist() == [
        ["I3", "4", "amount: must be > 0"]
    ]
