"""Reading files (encodings, malformed CSV, folders) and importing (strict, skip-invalid)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from ledger.contract import TABLES
from ledger.frames import Ledger
from ledger.importer import (
    LedgerRejected,
    LedgerSources,
    derive_customers,
    import_ledger,
    read_ledger,
)
from ledger.mapping import ColumnMapping
from ledger.reading import LedgerFileError, find_sources, read_table
from ledger.store import LedgerStore

HEBREW_NAME = 'חברת אלפא בע"מ'
QUOTED_NAME = HEBREW_NAME.replace('"', '""')  # CSV doubles a quote inside a quoted value
CUSTOMERS_CSV = f'customer_id,name,country,currency\nC1,"{QUOTED_NAME}",IL,ILS\nC2,Beta,US,USD\n'
INVOICES_CSV = (
    "invoice_id,customer_id,issue_date,due_date,amount,currency,paid_date,Notes\n"
    "I1,C1,2024-01-01,2024-01-31,1200.50,ILS,2024-02-03,first\n"
    "I2,C2,2024-01-05,2024-02-04,99.90,USD,,\n"
)
PAYMENTS_CSV = (
    "payment_id,customer_id,invoice_id,payment_date,amount\nP1,C1,I1,2024-02-03,1200.50\n"
)


def write(folder: Path, **files: str | bytes) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, content in files.items():
        path = folder / name.replace("_", ".", 1)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


class FakeStore:
    """An in-memory stand-in for ``LedgerStore``: upsert by id, all or nothing."""

    def __init__(self, ledger: Ledger | None = None) -> None:
        self.ledger = ledger or Ledger.from_frames()
        self.migrated = ledger is not None
        self.upserts = 0

    def revision(self) -> str | None:
        return "head" if self.migrated else None

    def migrate(self) -> str:
        self.migrated = True
        return "head"

    def existing_ids(self, table_name: str) -> set[str]:
        return set(self.ledger.table(table_name)[TABLES[table_name].key])

    def upsert(self, ledger: Ledger) -> dict[str, int]:
        self.upserts += 1
        merged = {}
        for name, table in TABLES.items():
            both = pd.concat([self.ledger.table(name), ledger.table(name)], ignore_index=True)
            merged[name] = both.drop_duplicates(table.key, keep="last").sort_values(table.key)
        self.ledger = Ledger(**{k: v.reset_index(drop=True) for k, v in merged.items()})
        return {name: len(ledger.table(name)) for name in TABLES}


# --- reading --------------------------------------------------------------------------


def test_hebrew_utf8_with_bom_is_read(tmp_path: Path) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes("\ufeff".encode() + CUSTOMERS_CSV.encode("utf-8"))
    raw = read_table("customers", path)
    assert list(raw.frame.columns) == ["customer_id", "name", "country", "currency"]
    assert raw.frame["name"].tolist() == [HEBREW_NAME, "Beta"]
    assert raw.lines.tolist() == [2, 3]


@pytest.mark.parametrize(
    ("encoding", "text", "offset"),
    [
        ("cp1255", "customer_id,name\nC1,שלום\n", 20),
        ("latin-1", "customer_id,name\nC1,Müller\n", 21),
    ],
)
def test_wrong_encoding_names_file_line_byte_and_the_option(
    tmp_path: Path, encoding: str, text: str, offset: int
) -> None:
    path = tmp_path / "customers.csv"
    path.write_bytes(text.encode(encoding))
    with pytest.raises(LedgerFileError) as error:
        read_table("customers", path)
    message = str(error.value)
    assert message.startswith(f"{path} line 2: the file is not valid utf-8 text (byte {offset}, ")
    assert "pass the file's encoding with --encoding" in message
    assert read_table("customers", path, encoding=encoding).frame["name"].tolist() == [
        text.split(",")[-1].strip()
    ]


def test_unknown_encoding_is_named(tmp_path: Path) -> None:
    path = write(tmp_path, customers_csv=CUSTOMERS_CSV) / "customers.csv"
    with pytest.raises(LedgerFileError, match="unknown encoding 'klingon' given with --encoding"):
        read_table("customers", path, encoding="klingon")


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (
            "a,b\n1,2\n3,4,5\n6\n",
            " line 3: malformed CSV: expected 2 fields as in the header, "
            "found 3 (2 such line(s) in all)",
        ),
        ('a,b\n1,2\n3,"4\n5,6\n', " line 3: malformed CSV: unexpected end of data"),
        ('a,b\n1,"2"x\n', " line 2: malformed CSV: ',' expected after '\"'"),
        ("", ": the file is empty (0 bytes), expected a header line"),
        ("a,b\n", ": the file has a header line but no data rows"),
        ("a,b\n\n ,\n", ": the file has a header line but no data rows"),
        ("a,a\n1,2\n", " line 1: column(s) ['a'] appear more than once in the header"),
    ],
)
def test_malformed_and_empty_csv_name_the_file_and_line(
    tmp_path: Path, content: str, message: str
) -> None:
    path = write(tmp_path, invoices_csv=content) / "invoices.csv"
    with pytest.raises(LedgerFileError) as error:
        read_table("invoices", path)
    assert str(error.value) == f"{path}{message}"


def test_wrong_file_types_are_refused(tmp_path: Path) -> None:
    with pytest.raises(LedgerFileError, match=r"unsupported file type '.xlsx' for the invoices"):
        read_table("invoices", write(tmp_path, invoices_xlsx=b"PK\x03\x04") / "invoices.xlsx")
    with pytest.raises(LedgerFileError, match=r"Excel \.xlsx workbook; save it as CSV"):
        read_table("invoices", write(tmp_path, invoices_csv=b"PK\x03\x04xx") / "invoices.csv")
    with pytest.raises(LedgerFileError, match="not a readable Parquet file"):
        read_table("invoices", write(tmp_path, invoices_parquet=b"a,b\n1,2\n") / "invoices.parquet")


def test_line_numbers_follow_multiline_values_and_blank_lines(tmp_path: Path) -> None:
    content = 'a,b\n1,"two\nlines"\n\n3,4\r\n,\n5,"x"\n'
    raw = read_table("invoices", write(tmp_path, invoices_csv=content) / "invoices.csv")
    assert raw.frame["a"].tolist() == ["1", "3", "5"]
    assert raw.frame["b"].tolist() == ["two\nlines", "4", "x"]
    assert raw.lines.tolist() == [2, 5, 7]
    assert raw.skipped_blank_lines == 2


def test_a_folder_yields_only_the_four_table_files(tmp_path: Path) -> None:
    folder = write(tmp_path, customers_csv=CUSTOMERS_CSV, oracle_csv="garbage\x00")
    pd.DataFrame({"invoice_id": ["I1"]}).to_parquet(folder / "invoices.parquet")
    assert find_sources(folder) == {
        "customers": folder / "customers.csv",
        "invoices": folder / "invoices.parquet",
    }
    write(folder, invoices_csv=INVOICES_CSV)
    with pytest.raises(LedgerFileError, match=r"both invoices\.csv and invoices\.parquet"):
        find_sources(folder)
    with pytest.raises(LedgerFileError, match="no ledger files in"):
        find_sources(write(tmp_path / "empty", notes_txt="x"))


def test_a_lone_file_is_its_named_table_or_the_invoices(tmp_path: Path) -> None:
    folder = write(tmp_path, payments_csv=PAYMENTS_CSV, export_csv=INVOICES_CSV)
    assert find_sources(folder / "payments.csv") == {"payments": folder / "payments.csv"}
    assert find_sources(folder / "export.csv") == {"invoices": folder / "export.csv"}
    loaded = read_ledger(
        LedgerSources(folder / "export.csv"), ColumnMapping().with_options(["Kunde=customer_id"])
    )
    assert loaded.report.notices == (
        "export.csv: column 'Notes' is not in the contract; ignored",
        "--map Kunde=customer_id: no file read has a column 'Kunde'; mapping unused",
        "export.csv: read as the invoices table",
        "no customers file: 2 new customer(s) derived from the invoices",
    )
    assert loaded.ledger.customers["customer_id"].tolist() == ["C1", "C2"]


def test_parquet_with_typed_columns_is_parsed(tmp_path: Path) -> None:
    invoices = pd.DataFrame(
        {
            "invoice_id": [101, 102],
            "customer_id": ["C1", "C2"],
            "issue_date": pd.to_datetime(["2024-01-01", "2024-01-02"]),
            "due_date": pd.to_datetime(["2024-02-01", "2024-02-02"]),
            "amount": [10.5, 20.0],
            "paperless": [True, False],
        }
    )
    invoices.to_parquet(tmp_path / "invoices.parquet")
    loaded = read_ledger(LedgerSources(files={"invoices": tmp_path / "invoices.parquet"}))
    assert loaded.report.ok
    frame = loaded.ledger.invoices
    assert frame["invoice_id"].tolist() == ["101", "102"]
    assert frame["due_date"].tolist() == list(pd.to_datetime(["2024-02-01", "2024-02-02"]))
    assert frame["paperless"].tolist() == [True, False]


# --- importing ------------------------------------------------------------------------


def test_an_invoices_only_export_derives_customers(tmp_path: Path) -> None:
    content = (
        "invoice_id,customer_id,issue_date,due_date,amount,currency,paid_date\n"
        "I1,C1,2024-01-01,2024-01-31,10,ILS,2024-02-01\n"
        "I2,C1,2024-02-01,2024-02-29,10,USD,\n"
        "I3,C1,2024-03-01,2024-03-31,10,USD,\n"
        "I4,C2,2024-03-01,2024-03-31,10,EUR,\n"
    )
    store = FakeStore()
    result = import_ledger(
        LedgerSources(write(tmp_path, invoices_csv=content)), ColumnMapping(), store
    )
    assert result.derived_customers == 2
    assert store.ledger.customers[["customer_id", "currency"]].to_dict("list") == {
        "customer_id": ["C1", "C2"],
        "currency": ["USD", "EUR"],
    }
    assert store.ledger.customers["name"].isna().all()
    assert result.counts == {"customers": 2, "invoices": 4, "payments": 0, "activities": 0}
    assert len(store.ledger.payments) == 0 and len(store.ledger.activities) == 0


def test_derive_customers_skips_known_ones() -> None:
    invoices = Ledger.from_frames(
        invoices=pd.DataFrame(
            {
                "invoice_id": ["I1", "I2"],
                "customer_id": ["C1", "C2"],
                "issue_date": ["2024-01-01"] * 2,
                "due_date": ["2024-01-31"] * 2,
                "amount": [1.0, 2.0],
                "currency": ["ILS", None],
            }
        ).astype({"amount": "float64"})
    ).invoices
    derived = derive_customers(invoices, {"C1"})
    assert derived["customer_id"].tolist() == ["C2"]
    assert derived["currency"].isna().tolist() == [True]
    assert list(derived.columns) == list(TABLES["customers"].column_names)


def test_strict_import_writes_nothing_and_reports(tmp_path: Path) -> None:
    bad = INVOICES_CSV + "I3,C9,2024-01-05,2024-01-01,-1,USD,,\n"
    folder = write(tmp_path / "data", customers_csv=CUSTOMERS_CSV, invoices_csv=bad)
    store = FakeStore()
    with pytest.raises(LedgerRejected) as error:
        import_ledger(LedgerSources(folder), None, store, report_dir=tmp_path / "reports")
    assert store.upserts == 0 and store.ledger.invoices.empty
    report_path = tmp_path / "reports" / "import-report.csv"
    assert error.value.report_path == report_path
    assert str(error.value).startswith(
        "3 value(s) rejected (rows rejected per table: invoices: 1 of 3); nothing was written"
    )
    report = pd.read_csv(report_path, encoding="utf-8-sig", dtype=str)
    assert report[["line", "column", "value", "reason"]].values.tolist() == [
        ["4", "amount", "-1", "must be > 0"],
        [
            "4",
            "customer_id",
            "C9",
            "refers to customer 'C9', which is not in customers.csv nor in the database",
        ],
        ["4", "due_date", "2024-01-01", "due_date is before issue_date (issue_date is 2024-01-05)"],
    ]
    assert not (folder / "rejected-invoices.csv").exists()


def test_skip_invalid_imports_good_rows_and_writes_rejected_ones(tmp_path: Path) -> None:
    customers = CUSTOMERS_CSV + "C3,Gamma,il,ILS\n"
    invoices = INVOICES_CSV + "I3,C3,2024-01-05,2024-02-04,5,ILS,,gamma\n"
    payments = PAYMENTS_CSV + "P2,C3,I3,2024-02-03,5\n"
    folder = write(tmp_path, customers_csv=customers, invoices_csv=invoices, payments_csv=payments)
    store = FakeStore()
    result = import_ledger(LedgerSources(folder), None, store, skip_invalid=True)
    assert store.ledger.customers["customer_id"].tolist() == ["C1", "C2"]
    assert store.ledger.invoices["invoice_id"].tolist() == ["I1", "I2"]
    assert store.ledger.payments["payment_id"].tolist() == ["P1"]
    assert result.report_path == folder / "import-report.csv"
    assert set(result.rejected_files) == {"customers", "invoices", "payments"}
    rejected = pd.read_csv(folder / "rejected-invoices.csv", encoding="utf-8-sig", dtype=str)
    assert list(rejected.columns) == [*INVOICES_CSV.split("\n")[0].split(","), "line", "reason"]
    assert rejected[["invoice_id", "amount", "Notes", "line"]].values.tolist() == [
        ["I3", "5", "gamma", "4"]
    ]
    assert rejected["reason"].tolist() == [
        "customer_id: refers to customer 'C3', whose row was rejected (customers.csv line 4)"
    ]
    payment = pd.read_csv(folder / "rejected-payments.csv", encoding="utf-8-sig", dtype=str)
    assert payment["reason"].tolist() == [
        "customer_id: refers to customer 'C3', whose row was rejected (customers.csv line 4); "
        "invoice_id: refers to invoice 'I3', whose row was rejected (invoices.csv line 4)"
    ]


def test_invoices_whose_customers_are_stored_are_valid(tmp_path: Path) -> None:
    store = FakeStore()
    import_ledger(LedgerSources(write(tmp_path / "a", customers_csv=CUSTOMERS_CSV)), None, store)
    result = import_ledger(
        LedgerSources(
            files={"invoices": write(tmp_path / "b", invoices_csv=INVOICES_CSV) / "invoices.csv"}
        ),
        None,
        store,
    )
    assert result.report.ok and result.derived_customers == 0
    assert store.ledger.customers["name"].tolist() == [HEBREW_NAME, "Beta"]  # not overwritten
    assert store.ledger.invoices["invoice_id"].tolist() == ["I1", "I2"]


# --- the real store -------------------------------------------------------------------


def test_import_round_trip_is_idempotent_and_a_bad_file_changes_nothing(
    tmp_path: Path, database_url: str
) -> None:
    folder = write(
        tmp_path / "ledger",
        customers_csv=CUSTOMERS_CSV,
        invoices_csv=INVOICES_CSV,
        payments_csv=PAYMENTS_CSV,
    )
    with LedgerStore.from_url(database_url) as store:
        first = import_ledger(LedgerSources(folder), None, store)
        loaded = store.load()
        assert first.counts == {"customers": 2, "invoices": 2, "payments": 1, "activities": 0}
        assert loaded.customers["name"].tolist() == [HEBREW_NAME, "Beta"]
        assert loaded.invoices["amount"].tolist() == [1200.5, 99.9]
        assert loaded.invoices["paid_date"].isna().tolist() == [False, True]

        second = import_ledger(LedgerSources(folder), None, store)
        assert second.counts == first.counts
        again = store.load()
        for name in TABLES:
            pd.testing.assert_frame_equal(again.table(name), loaded.table(name))

        write(folder, invoices_csv=INVOICES_CSV.replace("99.90", "-99.90").replace("I2,", "I9,"))
        with pytest.raises(LedgerRejected):
            import_ledger(LedgerSources(folder), None, store)
        after = store.load()
        for name in TABLES:
            pd.testing.assert_frame_equal(after.table(name), loaded.table(name))
