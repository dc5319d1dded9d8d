"""Column mapping, the YAML mapping file, date/number/flag formats and value maps."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest

from ledger.mapping import ColumnMapping, MappingError, MapRule, load_mapping, parse_map_option
from ledger.parsing import parse_table
from ledger.reading import read_table

INVOICE_HEADER = "invoice_id,customer_id,issue_date,due_date,amount"


def parsed(tmp_path: Path, text: str, mapping: ColumnMapping, table: str = "invoices"):  # type: ignore[no-untyped-def]
    path = tmp_path / f"{table}.csv"
    path.write_text(text, encoding="utf-8")
    return parse_table(
        read_table(table, path, encoding=mapping.encoding or "utf-8", delimiter=mapping.delimiter),
        mapping,
    )


def rejections(table):  # type: ignore[no-untyped-def]
    return [(r.line, r.column, r.value, r.reason) for r in table.rejections]


def test_map_option_accepts_column_or_table_column() -> None:
    assert parse_map_option("customerID=customer_id") == MapRule(
        "customerID", None, "customer_id", "--map customerID=customer_id"
    )
    assert parse_map_option(" Betrag = invoices.amount ").table == "invoices"


def test_map_option_with_an_unknown_column_names_it_and_the_valid_ones() -> None:
    with pytest.raises(MappingError) as error:
        parse_map_option("Kunde=invoices.client")
    message = str(error.value)
    assert message.startswith("--map Kunde=invoices.client: unknown column 'invoices.client'")
    assert "valid columns are invoices: invoice_id, customer_id, issue_date" in message
    with pytest.raises(MappingError, match="expected SRC=DST"):
        parse_map_option("Kunde")
    with pytest.raises(MappingError, match="unknown table 'bills'"):
        parse_map_option("Kunde=bills.customer_id")


def test_unqualified_map_applies_to_each_table_that_has_the_column(tmp_path: Path) -> None:
    mapping = ColumnMapping().with_options(["Kunde=customer_id", "Nr=invoices.invoice_id"])
    table = parsed(
        tmp_path,
        "Nr,Kunde,issue_date,due_date,amount,Bemerkung\nI1,C1,2024-01-01,2024-01-31,10,hi\n",
        mapping,
    )
    assert table.frame[["invoice_id", "customer_id"]].to_dict("list") == {
        "invoice_id": ["I1"],
        "customer_id": ["C1"],
    }
    assert table.notices == ("invoices.csv: column 'Bemerkung' is not in the contract; ignored",)
    assert {rule.source for rule in table.used_rules} == {"Kunde", "Nr"}


def test_two_columns_onto_one_and_a_missing_required_column_are_errors(tmp_path: Path) -> None:
    mapping = ColumnMapping().with_options(["Kunde=customer_id"])
    text = (
        "invoice_id,customer_id,Kunde,issue_date,due_date,amount\n"
        "I1,C1,C1,2024-01-01,2024-01-31,1\n"
    )
    with pytest.raises(MappingError, match=r"columns \['customer_id', 'Kunde'\] would all become"):
        parsed(tmp_path, text, mapping)
    with pytest.raises(MappingError) as error:
        parsed(tmp_path, "invoice_id,customer_id,issue_date,amount\nI1,C1,2024-01-01,1\n", mapping)
    assert str(error.value).startswith(
        "invoices.csv line 1: required column 'due_date' of the invoices table is missing; "
        "the header has ['invoice_id', 'customer_id', 'issue_date', 'amount']; "
        "map a source column onto it with --map SRC=invoices.due_date"
    )


def test_semicolon_file_read_with_commas_hints_at_the_delimiter(tmp_path: Path) -> None:
    with pytest.raises(MappingError, match="set the delimiter in the mapping file"):
        parsed(
            tmp_path,
            INVOICE_HEADER.replace(",", ";") + "\nI1;C1;2024-01-01;2024-01-31;1\n",
            ColumnMapping(),
        )


@pytest.mark.parametrize(
    ("date_format", "text", "expected"),
    [
        ("iso", "2024-03-04", "2024-03-04"),
        ("iso", "2024-03-04T13:45:00", "2024-03-04"),
        ("iso", "2024-03-04T00:30:00+02:00", "2024-03-04"),
        ("us", "03/04/2024", "2024-03-04"),
        ("eu", "04/03/2024", "2024-03-04"),
        ("eu", "04.03.2024 10:30", "2024-03-04"),
        ("%Y%m%d", "20240304", "2024-03-04"),
    ],
)
def test_date_formats(tmp_path: Path, date_format: str, text: str, expected: str) -> None:
    mapping = ColumnMapping(date_format=date_format)
    table = parsed(tmp_path, f"{INVOICE_HEADER}\nI1,C1,{text},{text},1\n", mapping)
    assert table.rejections == ()
    assert table.frame.loc[0, "issue_date"] == pd.Timestamp(expected)


def test_unparseable_dates_are_rejected_with_line_column_value(tmp_path: Path) -> None:
    text = f"{INVOICE_HEADER}\nI1,C1,31/01/2024,2024-02-30,1\nI2,C1,2024-01-01,2024-01-31,1\n"
    table = parsed(tmp_path, text, ColumnMapping())
    assert rejections(table) == [
        (
            2,
            "issue_date",
            "31/01/2024",
            "not a date in the iso format (YYYY-MM-DD) between 1900 and 2199",
        ),
        (
            2,
            "due_date",
            "2024-02-30",
            "not a date in the iso format (YYYY-MM-DD) between 1900 and 2199",
        ),
    ]
    assert table.frame["issue_date"].isna().tolist() == [True, False]
    us = parsed(
        tmp_path,
        f"{INVOICE_HEADER}\nI1,C1,13/01/2024,01/31/2024,1\n",
        ColumnMapping(date_format="us"),
    )
    assert rejections(us) == [
        (
            2,
            "issue_date",
            "13/01/2024",
            "not a date in the us format (MM/DD/YYYY) between 1900 and 2199",
        )
    ]


@pytest.mark.parametrize(
    ("decimal", "text", "expected"),
    [
        (".", '"1,234.50"', 1234.5),
        (".", "1234.5", 1234.5),
        (".", ".75", 0.75),
        (",", '"1.234,50"', 1234.5),
        (",", '"1 234,5"', 1234.5),
        (",", '"12,05"', 12.05),
        (",", "1.234", 1234.0),
    ],
)
def test_decimal_and_thousands_separators(
    tmp_path: Path, decimal: str, text: str, expected: float
) -> None:
    table = parsed(
        tmp_path,
        f"{INVOICE_HEADER}\nI1,C1,2024-01-01,2024-01-31,{text}\n",
        ColumnMapping(decimal=decimal),
    )
    assert table.rejections == ()
    assert table.frame.loc[0, "amount"] == expected


def test_unparseable_numbers_are_rejected_never_nan(tmp_path: Path) -> None:
    rows = [
        'I1,C1,2024-01-01,2024-01-31,"1,5"',
        "I2,C1,2024-01-01,2024-01-31,₪100",
        "I3,C1,2024-01-01,2024-01-31,1e3",
        "I4,C1,2024-01-01,2024-01-31,",
    ]
    table = parsed(tmp_path, INVOICE_HEADER + "\n" + "\n".join(rows) + "\n", ColumnMapping())
    reason = "not a number (decimal separator '.')"
    assert rejections(table) == [
        (2, "amount", "1,5", reason),
        (3, "amount", "₪100", reason),
        (4, "amount", "1e3", reason),
    ]  # the empty amount on line 5 is a missing value: validation reports it as required


def test_yaml_mapping_for_a_hebrew_erp_export(tmp_path: Path) -> None:
    mapping_file = tmp_path / "erp.yaml"
    mapping_file.write_text(
        """
date_format: eu
decimal: ","
delimiter: ";"
columns:
  invoices:
    מספר חשבונית: invoice_id
    מספר לקוח: customer_id
    תאריך: issue_date
    לתשלום עד: due_date
    סכום: amount
    תנאי תשלום: terms
    משלוח: paperless
    במחלוקת: disputed
values:
  paperless: {נייר: false, דיגיטלי: true}
  disputed: {Yes: true, No: false, לא ידוע: null}
  invoices.terms: {שוטף+60: eom+60, שוטף+30: eom+30}
""",
        encoding="utf-8",
    )
    mapping = load_mapping(mapping_file)
    text = (
        "מספר חשבונית;מספר לקוח;תאריך;לתשלום עד;סכום;תנאי תשלום;משלוח;במחלוקת\n"
        "1001;ל-17;31/01/2024;31/03/2024;1.234,50;שוטף+60;נייר;Yes\n"
        "1002;ל-17;05/02/2024;30/04/2024;99,90;net30;דיגיטלי;לא ידוע\n"
        "1003;ל-18;05/02/2024;30/04/2024;10;שוטף+30;פקס;Maybe\n"
    )
    table = parsed(tmp_path, text, mapping)
    frame = table.frame
    assert frame["invoice_id"].tolist() == ["1001", "1002", "1003"]
    assert frame["issue_date"].tolist()[:2] == [
        pd.Timestamp("2024-01-31"),
        pd.Timestamp("2024-02-05"),
    ]
    assert frame["amount"].tolist() == [1234.5, 99.9, 10.0]
    assert frame["terms"].tolist() == ["eom+60", "net30", "eom+30"]
    assert frame["paperless"].tolist()[:2] == [False, True]
    assert frame["disputed"].isna().tolist() == [False, True, True]  # "לא ידוע" -> missing
    assert bool(frame.loc[0, "disputed"]) is True
    assert rejections(table) == [
        (
            4,
            "paperless",
            "פקס",
            "not a flag: expected true/false, yes/no, y/n, t/f or 1/0 (or a value map)",
        ),
        (
            4,
            "disputed",
            "Maybe",
            "not a flag: expected true/false, yes/no, y/n, t/f or 1/0 (or a value map)",
        ),
    ]


def test_flags_accept_common_words_in_any_case(tmp_path: Path) -> None:
    header = INVOICE_HEADER + ",disputed"
    rows = [
        f"I{i},C1,2024-01-01,2024-01-31,1,{word}"
        for i, word in enumerate(["Yes", "n", "TRUE", "0", "f", ""])
    ]
    table = parsed(tmp_path, header + "\n" + "\n".join(rows) + "\n", ColumnMapping())
    assert table.rejections == ()
    assert table.frame["disputed"].tolist()[:5] == [True, False, True, False, False]
    assert table.frame["disputed"].isna().tolist()[5]


def test_mapping_file_errors_name_the_key(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text("columns:\n  invoices:\n    Kunde: client_id\n", encoding="utf-8")
    with pytest.raises(MappingError) as error:
        load_mapping(path)
    assert f"{path}: columns.invoices.Kunde: unknown column 'invoices.client_id'" in str(
        error.value
    )
    assert "valid columns are invoices: invoice_id, customer_id" in str(error.value)
    path.write_text("date_format: dmy\n", encoding="utf-8")
    with pytest.raises(MappingError, match="date_format 'dmy' is not one of"):
        load_mapping(path)
    path.write_text("colums: {}\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"unknown key\(s\) \['colums'\]"):
        load_mapping(path)
    path.write_text("values:\n  paper: {a: b}\n", encoding="utf-8")
    with pytest.raises(MappingError, match=r"values\.paper: unknown column 'paper'"):
        load_mapping(path)


def test_options_and_table_specific_maps_win(tmp_path: Path) -> None:
    path = tmp_path / "m.yaml"
    path.write_text(
        "columns:\n  Nr: payment_id\n  invoices:\n    Nr: invoice_id\n"
        "values:\n  terms: {N30: net30}\n  invoices:\n    terms: {N30: net-30}\n",
        encoding="utf-8",
    )
    mapping = load_mapping(path)
    assert mapping.rules_for("invoices")["Nr"].column == "invoice_id"
    assert mapping.rules_for("payments")["Nr"].column == "payment_id"
    assert mapping.rules_for("customers") == {}
    assert mapping.value_map("invoices", "terms") == {"N30": "net-30"}
    overridden = mapping.with_options(["Nr=activity_id", "Nr=invoices.customer_id"])
    assert overridden.rules_for("activities")["Nr"].origin == "--map Nr=activity_id"
    assert overridden.rules_for("invoices")["Nr"].column == "customer_id"


def test_sentinel_dates_are_rejected_unless_mapped_to_null(tmp_path: Path) -> None:
    text = f"{INVOICE_HEADER},paid_date\nI1,C1,2024-01-01,2024-01-31,1,9999-12-31\n"
    table = parsed(tmp_path, text, ColumnMapping())
    assert rejections(table) == [
        (
            2,
            "paid_date",
            "9999-12-31",
            "not a date in the iso format (YYYY-MM-DD) between 1900 and 2199",
        ),
    ]
    path = tmp_path / "m.yaml"
    path.write_text("values:\n  paid_date: {'9999-12-31': null}\n", encoding="utf-8")
    table = parsed(tmp_path, text, load_mapping(path))
    assert table.rejections == ()
    assert table.frame["paid_date"].isna().tolist() == [True]


def test_the_israeli_erp_example_of_the_docs_works(tmp_path: Path) -> None:
    docs = (Path(__file__).parents[2] / "docs" / "import.md").read_text(encoding="utf-8")
    example = docs[docs.index("## Example: an Israeli ERP export") :]
    blocks = dict(re.findall(r"```(text|yaml)\n(.*?)```", example, re.S))
    (tmp_path / "erp.yaml").write_text(blocks["yaml"], encoding="utf-8")
    (tmp_path / "invoices.csv").write_bytes(blocks["text"].encode("cp1255"))
    mapping = load_mapping(tmp_path / "erp.yaml")
    raw = read_table("invoices", tmp_path / "invoices.csv", encoding="cp1255", delimiter=";")
    table = parse_table(raw, mapping)
    assert table.rejections == ()
    assert table.frame.drop(columns=["due_date", "paid_date"]).to_dict("list") == {
        "invoice_id": ["100231", "100232"],
        "customer_id": ["4471", "4471"],
        "issue_date": [pd.Timestamp("2024-01-31"), pd.Timestamp("2024-02-05")],
        "amount": [1234.5, 99.9],
        "currency": ["ILS", "ILS"],
        "terms": ["eom+60", "eom+60"],
        "disputed": [False, True],
        "paperless": [False, True],
    }
    assert table.frame["paid_date"].tolist()[0] == pd.Timestamp("2024-04-15")
    assert table.notices == ("invoices.csv: column 'שם לקוח' is not in the contract; ignored",)
