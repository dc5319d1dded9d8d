"""Validation: pandera schemas from the contract and the cross-table rules, on tiny frames."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any

import pandas as pd
from rich.console import Console

from ledger.contract import TABLES
from ledger.frames import conform
from ledger.parsing import with_all_columns
from ledger.validation import Rejection, TableCounts, schema_for, validate_ledger


def frame(table: str, **columns: list[Any]) -> pd.DataFrame:
    """A frame of ``table`` in canonical dtypes from a few columns (the rest missing)."""
    contract = TABLES[table]
    return conform(contract, with_all_columns(contract, pd.DataFrame(columns)))


def customers(ids: list[str], **columns: list[Any]) -> pd.DataFrame:
    return frame("customers", customer_id=ids, **columns)


def invoices(
    ids: list[str], customer_ids: list[str], amounts: list[float], **columns: list[Any]
) -> pd.DataFrame:
    columns.setdefault("issue_date", ["2024-01-01"] * len(ids))
    columns.setdefault("due_date", ["2024-01-31"] * len(ids))
    return frame("invoices", invoice_id=ids, customer_id=customer_ids, amount=amounts, **columns)


def payments(
    ids: list[str], customer_ids: list[str], invoice_ids: list[str | None]
) -> pd.DataFrame:
    return frame(
        "payments",
        payment_id=ids,
        customer_id=customer_ids,
        invoice_id=invoice_ids,
        payment_date=["2024-02-01"] * len(ids),
        amount=[10.0] * len(ids),
    )


def reasons(report: Any) -> list[tuple[str, int, str, str | None, str]]:
    return [(r.table, r.line, r.column, r.value, r.reason) for r in report.rejections]


def test_schema_columns_come_from_the_contract() -> None:
    for table in TABLES.values():
        schema = schema_for(table)
        assert tuple(schema.columns) == table.column_names
        assert schema.columns[table.key].unique
        required = {c for c, column in schema.columns.items() if not column.nullable}
        assert required == set(table.required_names)


def test_a_clean_ledger_has_no_rejections_and_counts_every_row() -> None:
    report = validate_ledger(
        {
            "customers": customers(["C1", "C2"], country=["IL", "US"], currency=["ILS", "USD"]),
            "invoices": invoices(["I1", "I2", "I3"], ["C1", "C1", "C2"], [100.0, 5.5, 1.0]),
            "payments": payments(["P1", "P2"], ["C1", "C2"], ["I1", None]),
        }
    )
    assert report.ok
    assert report.counts == {
        "customers": TableCounts(read=2, accepted=2, rejected=0),
        "invoices": TableCounts(read=3, accepted=3, rejected=0),
        "payments": TableCounts(read=2, accepted=2, rejected=0),
    }


def test_duplicate_ids_reject_every_row_holding_the_id() -> None:
    report = validate_ledger(
        {"customers": customers(["C1", "C2", "C1"])}, files={"customers": "customers.csv"}
    )
    assert report.rejections == (
        Rejection(
            "customers",
            "customers.csv",
            2,
            "customer_id",
            "C1",
            "duplicate customer_id: the same id is also on line 4",
        ),
        Rejection(
            "customers",
            "customers.csv",
            4,
            "customer_id",
            "C1",
            "duplicate customer_id: the same id is also on line 2",
        ),
    )
    assert report.counts["customers"] == TableCounts(read=3, accepted=1, rejected=2)


def test_amounts_must_be_positive_and_credit_limit_may_be_zero() -> None:
    report = validate_ledger(
        {
            "customers": customers(["C1"], credit_limit=[0.0]),
            "invoices": invoices(["I1", "I2", "I3"], ["C1"] * 3, [-5.0, 0.0, 12.5]),
        }
    )
    assert reasons(report) == [
        ("invoices", 2, "amount", "-5", "must be > 0"),
        ("invoices", 3, "amount", "0", "must be > 0"),
    ]


ISSUED = "issue_date (issue_date is 2024-01-10)"


def test_dates_must_not_be_before_the_issue_date() -> None:
    report = validate_ledger(
        {
            "invoices": invoices(
                ["I1", "I2", "I3"],
                ["C1"] * 3,
                [1.0] * 3,
                issue_date=["2024-01-10", "2024-01-10", "2024-01-10"],
                due_date=["2024-01-09", "2024-02-10", "2024-01-10"],
                paid_date=[None, "2024-01-05", "2024-01-10"],
            )
        }
    )
    assert reasons(report) == [
        ("invoices", 2, "due_date", "2024-01-09", f"due_date is before {ISSUED}"),
        ("invoices", 3, "paid_date", "2024-01-05", f"paid_date is before {ISSUED}"),
    ]


def test_codes_kinds_and_missing_required_values() -> None:
    report = validate_ledger(
        {
            "customers": customers(["C1", "C2"], country=["il", "IL"], currency=["ILS", "usd"]),
            "activities": frame(
                "activities",
                activity_id=["A1", "A2"],
                customer_id=["C1", "C2"],
                date=["2024-03-01", None],
                kind=["visit", "call"],
            ),
        }
    )
    assert reasons(report) == [
        (
            "customers",
            2,
            "country",
            "il",
            "expected a two-letter ISO 3166-1 country code in upper case, e.g. IL",
        ),
        (
            "customers",
            3,
            "currency",
            "usd",
            "expected a three-letter ISO 4217 currency code in upper case, e.g. ILS",
        ),
        (
            "activities",
            2,
            "customer_id",
            "C1",
            "refers to customer 'C1', whose row was rejected (customers line 2)",
        ),
        (
            "activities",
            2,
            "kind",
            "visit",
            "unknown activity kind; expected one of reminder, call, promise, dispute_opened, "
            "dispute_resolved, note, reassign",
        ),
        (
            "activities",
            3,
            "customer_id",
            "C2",
            "refers to customer 'C2', whose row was rejected (customers line 3)",
        ),
        ("activities", 3, "date", None, "required value is missing"),
    ]


def test_a_code_with_a_trailing_newline_is_not_a_code() -> None:
    """``$`` alone matches before a final newline: "IL\n" once passed as a country."""
    report = validate_ledger(
        {"customers": customers(["C1", "C2"], country=["IL\n", "IL"], currency=["ILS", "ILS\n"])}
    )
    assert [(line, column, value) for _, line, column, value, _ in reasons(report)] == [
        (2, "country", "IL\n"),
        (3, "currency", "ILS\n"),
    ]


def test_orphans_are_rejected_and_known_ids_count_as_existing() -> None:
    frames = {
        "customers": customers(["C1"]),
        "invoices": invoices(["I1", "I2"], ["C1", "C9"], [1.0, 2.0]),
        "payments": payments(["P1", "P2", "P3"], ["C1", "C1", "C1"], ["I1", None, "I7"]),
    }
    files = {"customers": "customers.csv", "invoices": "invoices.csv", "payments": "pay.csv"}
    report = validate_ledger(frames, files=files)
    assert reasons(report) == [
        (
            "invoices",
            3,
            "customer_id",
            "C9",
            "refers to customer 'C9', which is not in customers.csv",
        ),
        ("payments", 4, "invoice_id", "I7", "refers to invoice 'I7', which is not in invoices.csv"),
    ]
    stored = {"customers": {"C9"}, "invoices": {"I7"}}
    assert validate_ledger(frames, files=files, known_ids=stored).ok


def test_a_rejected_row_rejects_the_rows_that_refer_to_it() -> None:
    report = validate_ledger(
        {
            "customers": customers(["C1", "C2"], currency=["ILS", "nis"]),
            "invoices": invoices(["I1", "I2"], ["C1", "C2"], [1.0, 2.0]),
            "payments": payments(["P1", "P2"], ["C2", "C1"], [None, "I2"]),
        },
        files={"customers": "c.csv", "invoices": "i.csv", "payments": "p.csv"},
    )
    rejected = "whose row was rejected"
    assert reasons(report)[1:] == [
        ("invoices", 3, "customer_id", "C2", f"refers to customer 'C2', {rejected} (c.csv line 3)"),
        ("payments", 2, "customer_id", "C2", f"refers to customer 'C2', {rejected} (c.csv line 3)"),
        ("payments", 3, "invoice_id", "I2", f"refers to invoice 'I2', {rejected} (i.csv line 3)"),
    ]
    assert report.counts["payments"] == TableCounts(read=2, accepted=0, rejected=2)


def test_without_customers_invoices_define_them_for_payments() -> None:
    frames = {
        "invoices": invoices(["I1", "I2"], ["C1", "C2"], [1.0, -2.0]),
        "payments": payments(["P1", "P2", "P3"], ["C1", "C2", "C3"], [None, None, None]),
    }
    report = validate_ledger(frames, files={"invoices": "i.csv", "payments": "p.csv"})
    assert reasons(report) == [
        ("invoices", 3, "amount", "-2", "must be > 0"),
        (
            "payments",
            3,
            "customer_id",
            "C2",
            "refers to customer 'C2', whose row was rejected (i.csv line 3)",
        ),
        (
            "payments",
            4,
            "customer_id",
            "C3",
            "refers to customer 'C3', which is not in i.csv (customers derived from invoices)",
        ),
    ]


def test_prior_rejections_are_not_reported_twice_and_lines_are_used() -> None:
    parse_problem = Rejection("invoices", "i.csv", 7, "due_date", "31/02/2024", "not a date")
    report = validate_ledger(
        {"invoices": invoices(["I1"], ["C1"], [1.0], due_date=[None])},
        files={"invoices": "i.csv"},
        lines={"invoices": pd.Series([7])},
        prior_rejections=[parse_problem],
    )
    assert report.rejections == (parse_problem,)
    assert report.counts["invoices"] == TableCounts(read=1, accepted=0, rejected=1)


def test_report_writes_csv_and_renders_a_table(tmp_path: Path) -> None:
    report = validate_ledger(
        {"invoices": invoices(["I1", "I2"], ["C1", "C1"], [1.0, -3.25])},
        files={"invoices": "חשבוניות.csv"},
    )
    path = report.write_csv(tmp_path / "report.csv")
    written = pd.read_csv(path, encoding="utf-8-sig", dtype=str)
    assert written.to_dict("records") == [
        {
            "table": "invoices",
            "file": "חשבוניות.csv",
            "line": "3",
            "column": "amount",
            "value": "-3.25",
            "reason": "must be > 0",
        }
    ]
    console = Console(file=io.StringIO(), width=200)
    console.print(report.rejections_table())
    console.print(report.counts_table())
    text = console.file.getvalue()  # type: ignore[attr-defined]
    assert "חשבוניות.csv" in text and "must be > 0" in text and "-3.25" in text
    assert "│ invoices │    2 │        1 │        1 │" in text
