"""Importing a ledger export: read -> map -> parse -> validate -> store.

Strict by default: if any value is rejected nothing is written and ``LedgerRejected``
carries the report. With ``skip_invalid`` the good rows are written and the rejected
ones (plus the rows that refer to them) go to ``rejected-<table>.csv`` beside
``import-report.csv``. Everything is validated before the one-transaction upsert, so a
bad file leaves the database unchanged. Ids already stored count for the cross-table
rules: an invoices file whose customers were imported earlier is valid.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import pandas as pd

from ledger.contract import CUSTOMERS, INVOICES, TABLES
from ledger.errors import PayriskError
from ledger.frames import Ledger
from ledger.mapping import ColumnMapping, MapRule
from ledger.parsing import ParsedTable, parse_table, with_all_columns
from ledger.reading import find_sources, other_files, read_table, single_file_table
from ledger.rules import REFERENCES
from ledger.validation import OUTPUT_ENCODING, ValidationReport, validate_ledger

REPORT_FILE = "import-report.csv"
VALIDATION_REPORT_FILE = "validation-report.csv"
REJECTED_FILE = "rejected-{table}.csv"


class LedgerRejected(PayriskError):
    """Some rows were rejected and the import was strict: nothing was written."""

    def __init__(self, report: ValidationReport, report_path: Path | None = None) -> None:
        self.report = report
        self.report_path = report_path
        rejected = ", ".join(
            f"{name}: {counts.rejected} of {counts.read}"
            for name, counts in report.counts.items()
            if counts.rejected
        )
        where = f"; the full report is in {report_path}" if report_path else ""
        super().__init__(
            f"{len(report.rejections)} value(s) rejected (rows rejected per table: {rejected}); "
            f"nothing was written (use --skip-invalid to import the good rows){where}"
        )


class LedgerWriter(Protocol):
    """What the importer needs of a store (``ledger.store.LedgerStore`` provides it)."""

    def revision(self) -> str | None: ...
    def migrate(self) -> str: ...
    def existing_ids(self, table_name: str) -> set[str]: ...
    def upsert(self, ledger: Ledger) -> dict[str, int]: ...


@dataclass(frozen=True)
class LedgerSources:
    """Where the ledger files are: a folder and/or one file per table; their encoding.

    ``encoding`` None means the mapping file's encoding, else UTF-8.
    """

    directory: Path | None = None
    files: Mapping[str, Path] = field(default_factory=dict)
    encoding: str | None = None

    def paths(self) -> dict[str, Path]:
        """table -> file, for the tables that have one."""
        return find_sources(self.directory, dict(self.files))

    def folder(self) -> Path:
        """The folder of the data: the given folder, or that of the first file."""
        if self.directory is not None:
            return self.directory.parent if self.directory.is_file() else self.directory
        return next(iter(self.paths().values())).parent


@dataclass(frozen=True)
class LoadedLedger:
    """A ledger read from files: its accepted rows, the report, and each parsed table."""

    ledger: Ledger
    report: ValidationReport
    tables: Mapping[str, ParsedTable]
    derived_customers: int


@dataclass(frozen=True)
class ImportResult:
    """What an import did: rows written per table, the report, and files written."""

    counts: Mapping[str, int]
    report: ValidationReport
    derived_customers: int
    report_path: Path | None = None
    rejected_files: Mapping[str, Path] = field(default_factory=dict)


def read_ledger(
    sources: LedgerSources,
    mapping: ColumnMapping | None = None,
    *,
    known_ids: Mapping[str, Collection[str]] | None = None,
) -> LoadedLedger:
    """Read, map, parse and validate a ledger export; bad rows are reported, not raised.

    Raises only for problems with a whole file or the mapping (``PayriskError``). When
    no customers file is given, customers are derived from the accepted invoices
    (``derive_customers``), except those in ``known_ids["customers"]``.
    """
    mapping = mapping or ColumnMapping()
    encoding = sources.encoding or mapping.encoding or "utf-8"
    tables = {
        name: parse_table(
            read_table(name, path, encoding=encoding, delimiter=mapping.delimiter), mapping
        )
        for name, path in sources.paths().items()
    }
    report = validate_ledger(
        {name: parsed.frame for name, parsed in tables.items()},
        files={name: parsed.file for name, parsed in tables.items()},
        lines={name: parsed.lines for name, parsed in tables.items()},
        known_ids=known_ids,
        prior_rejections=[r for parsed in tables.values() for r in parsed.rejections],
        notices=_notices(sources, mapping, tables),
    )
    accepted = {
        name: parsed.frame[~parsed.lines.isin(report.rejected_lines(name))]
        for name, parsed in tables.items()
    }
    derived = 0
    if CUSTOMERS.name not in accepted and INVOICES.name in accepted:
        known_customers = (known_ids or {}).get(CUSTOMERS.name, ())
        accepted[CUSTOMERS.name] = derive_customers(accepted[INVOICES.name], known_customers)
        derived = len(accepted[CUSTOMERS.name])
        report = _with_notice(
            report, f"no customers file: {derived} new customer(s) derived from the invoices"
        )
    return LoadedLedger(Ledger.from_frames(**accepted), report, tables, derived)


def derive_customers(invoices: pd.DataFrame, known_customer_ids: Collection[str]) -> pd.DataFrame:
    """One customer per distinct ``customer_id`` of ``invoices`` not already known.

    Its currency is the one most of its invoices are in (ties: alphabetical first);
    every other customer column is missing.
    """
    customer, currency = CUSTOMERS.key, INVOICES.column("currency").name
    known = invoices[customer].astype(object).isin(set(known_customer_ids))
    per_currency = (
        invoices[~known]
        .groupby([customer, currency], dropna=False, observed=True)
        .size()
        .rename("invoice_count")
        .reset_index()
    )
    ranked = per_currency.sort_values(
        [customer, "invoice_count", currency], ascending=[True, False, True], na_position="last"
    )
    first = ranked.drop_duplicates(customer)
    derived = first[[customer, currency]].reset_index(drop=True)
    return with_all_columns(CUSTOMERS, derived)[list(CUSTOMERS.column_names)]


def _notices(
    sources: LedgerSources, mapping: ColumnMapping, tables: Mapping[str, ParsedTable]
) -> list[str]:
    notices = [notice for parsed in tables.values() for notice in parsed.notices]
    used: set[MapRule] = {rule for parsed in tables.values() for rule in parsed.used_rules}
    notices += [
        f"{rule.origin}: no file read has a column {rule.source!r}; mapping unused"
        for rule in mapping.rules
        if rule not in used
    ]
    if sources.directory is not None and sources.directory.is_file():
        table = single_file_table(sources.directory)
        notices.append(f"{sources.directory.name}: read as the {table} table")
    elif sources.directory is not None:
        ours = {REPORT_FILE, VALIDATION_REPORT_FILE}
        ours |= {REJECTED_FILE.format(table=name) for name in TABLES}
        others = [name for name in other_files(sources.directory) if name not in ours]
        if others:
            notices.append(f"{sources.directory}: not ledger tables, not read: {', '.join(others)}")
    return notices


def _with_notice(report: ValidationReport, notice: str) -> ValidationReport:
    return ValidationReport(report.rejections, report.counts, (*report.notices, notice))


def known_ids_in(store: LedgerWriter) -> dict[str, set[str]]:
    """Ids already stored of every table other rows refer to (none before the first import)."""
    if store.revision() is None:
        return {name: set() for name in sorted(set(REFERENCES.values()))}
    store.migrate()
    return {name: store.existing_ids(name) for name in sorted(set(REFERENCES.values()))}


def import_ledger(
    sources: LedgerSources,
    mapping: ColumnMapping | None,
    store: LedgerWriter,
    *,
    skip_invalid: bool = False,
    report_dir: Path | None = None,
) -> ImportResult:
    """Import a ledger export into ``store``: all or nothing unless ``skip_invalid``.

    ``report_dir`` (default: the data folder) receives ``import-report.csv`` when
    anything is rejected, and with ``skip_invalid`` also ``rejected-<table>.csv``
    (the original columns of each rejected row plus ``line`` and ``reason``).
    Raises ``LedgerRejected`` (strict mode, nothing written) or another ``PayriskError``.
    """
    loaded = read_ledger(sources, mapping, known_ids=known_ids_in(store))
    report_path = None
    rejected_files: dict[str, Path] = {}
    if not loaded.report.ok:
        folder = report_dir if report_dir is not None else sources.folder()
        report_path = _write_report(loaded.report, folder)
        if not skip_invalid:
            raise LedgerRejected(loaded.report, report_path)
        rejected_files = write_rejected_rows(loaded, folder)
    store.migrate()
    counts = store.upsert(loaded.ledger)
    return ImportResult(
        counts, loaded.report, loaded.derived_customers, report_path, rejected_files
    )


def _write_report(report: ValidationReport, folder: Path) -> Path:
    try:
        folder.mkdir(parents=True, exist_ok=True)
        path = report.write_csv(folder / REPORT_FILE)
    except OSError as error:
        raise PayriskError(f"{folder}: cannot write the import report ({error})") from error
    return path


def rejected_rows(parsed: ParsedTable, report: ValidationReport) -> pd.DataFrame:
    """The rejected rows of one table: original columns, then ``line`` and ``reason``."""
    frame = report.to_frame()
    mine = frame[frame["table"] == parsed.table]
    reasons = (mine["column"] + ": " + mine["reason"]).groupby(mine["line"]).agg("; ".join)
    rejected = parsed.lines.isin(reasons.index)
    rows = parsed.raw[rejected.to_numpy()].copy()
    line_column = _free_name(rows, "line")
    rows[line_column] = parsed.lines[rejected].to_numpy()
    rows[_free_name(rows, "reason")] = rows[line_column].map(reasons).to_numpy()
    return rows.reset_index(drop=True)


def _free_name(frame: pd.DataFrame, name: str) -> str:
    """``name``, or ``payrisk_<name>`` when the source already has such a column."""
    return name if name not in frame.columns else f"payrisk_{name}"


def write_rejected_rows(loaded: LoadedLedger, folder: Path) -> dict[str, Path]:
    """Write ``rejected-<table>.csv`` for each table with rejected rows; table -> path."""
    written = {}
    for name, parsed in loaded.tables.items():
        if not loaded.report.rejected_lines(name):
            continue
        path = folder / REJECTED_FILE.format(table=name)
        try:
            rejected_rows(parsed, loaded.report).to_csv(path, index=False, encoding=OUTPUT_ENCODING)
        except OSError as error:
            raise PayriskError(f"{path}: cannot write the rejected rows ({error})") from error
        written[name] = path
    return written
