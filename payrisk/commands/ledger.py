"""`payrisk ledger validate` and `payrisk ledger import`: check or load a ledger export."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.importer import (
    VALIDATION_REPORT_FILE,
    ImportResult,
    LedgerRejected,
    LedgerSources,
    import_ledger,
    read_ledger,
)
from ledger.mapping import ColumnMapping, load_mapping
from ledger.store import LedgerStore
from ledger.validation import ValidationReport
from payrisk.commands import ledger_stats as ledger_stats_command
from payrisk.commands._common import console, err_console, load_settings, user_errors

app = typer.Typer(no_args_is_help=True)

REPORT_LIMIT = 50

DirectoryArg = Annotated[
    Path | None,
    typer.Argument(
        help="Folder with customers, invoices, payments, activities (.csv or .parquet); "
        "other files in it are never read."
    ),
]
CustomersOpt = Annotated[Path | None, typer.Option("--customers", help="The customers file.")]
InvoicesOpt = Annotated[Path | None, typer.Option("--invoices", help="The invoices file.")]
PaymentsOpt = Annotated[Path | None, typer.Option("--payments", help="The payments file.")]
ActivitiesOpt = Annotated[Path | None, typer.Option("--activities", help="The activities file.")]
MapOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--map",
        metavar="SRC=DST",
        help="Source column SRC holds contract column DST (column or table.column); repeatable.",
    ),
]
MappingOpt = Annotated[
    Path | None,
    typer.Option("--mapping", help="YAML mapping file: columns, date format, decimal, values."),
]
EncodingOpt = Annotated[
    str | None, typer.Option("--encoding", help="Text encoding of CSV files (default utf-8).")
]
ReportDirOpt = Annotated[
    Path | None,
    typer.Option("--report-dir", help="Where reports are written (default: the data folder)."),
]


def _sources(
    directory: Path | None, files: dict[str, Path | None], encoding: str | None
) -> LedgerSources:
    given = {table: path for table, path in files.items() if path is not None}
    return LedgerSources(directory=directory, files=given, encoding=encoding)


def _mapping(mapping_file: Path | None, map_options: list[str] | None) -> ColumnMapping:
    base = load_mapping(mapping_file) if mapping_file is not None else ColumnMapping()
    return base.with_options(map_options or [])


def print_report(report: ValidationReport, report_path: Path | None) -> None:
    """Notices, the first rejections (with where the rest are) and the counts per table."""
    for notice in report.notices:
        console.print(f"[dim]notice:[/] {notice}", highlight=False)
    if report.rejections:
        console.print(report.rejections_table(REPORT_LIMIT))
        hidden = len(report.rejections) - REPORT_LIMIT
        if hidden > 0:
            where = f" (see {report_path})" if report_path else ""
            console.print(f"... and {hidden} more{where}", highlight=False)
        elif report_path is not None:
            console.print(f"report written to {report_path}", highlight=False)
    console.print(report.counts_table())


@app.command()
def validate(
    directory: DirectoryArg = None,
    customers: CustomersOpt = None,
    invoices: InvoicesOpt = None,
    payments: PaymentsOpt = None,
    activities: ActivitiesOpt = None,
    map_options: MapOpt = None,
    mapping_file: MappingOpt = None,
    encoding: EncodingOpt = None,
    report_dir: ReportDirOpt = None,
) -> None:
    """Check a ledger export against the contract; exit 1 if any row is rejected.

    Rejections are also written to validation-report.csv in --report-dir.
    """
    files = {"customers": customers, "invoices": invoices}
    files |= {"payments": payments, "activities": activities}
    with user_errors():
        sources = _sources(directory, files, encoding)
        loaded = read_ledger(sources, _mapping(mapping_file, map_options))
        report_path = None
        if not loaded.report.ok:
            folder = report_dir if report_dir is not None else sources.folder()
            folder.mkdir(parents=True, exist_ok=True)
            report_path = loaded.report.write_csv(folder / VALIDATION_REPORT_FILE)
        print_report(loaded.report, report_path)
    if not loaded.report.ok:
        err_console.print(
            f"[bold red]error:[/] {len(loaded.report.rejections)} value(s) rejected",
            highlight=False,
        )
        raise typer.Exit(1)
    console.print("[green]the ledger is valid[/]")


@app.command("import")
def import_command(
    directory: DirectoryArg = None,
    customers: CustomersOpt = None,
    invoices: InvoicesOpt = None,
    payments: PaymentsOpt = None,
    activities: ActivitiesOpt = None,
    map_options: MapOpt = None,
    mapping_file: MappingOpt = None,
    encoding: EncodingOpt = None,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", help="Import the good rows; write rejected-<table>.csv."),
    ] = False,
    report_dir: ReportDirOpt = None,
) -> None:
    """Import a ledger export into the database (PAYRISK_DATABASE_URL); all or nothing.

    Any rejected row stops the import and nothing is written, unless --skip-invalid.
    Re-importing the same files changes nothing (rows are upserted by id).
    """
    settings = load_settings()
    files = {"customers": customers, "invoices": invoices}
    files |= {"payments": payments, "activities": activities}
    with user_errors():
        sources = _sources(directory, files, encoding)
        mapping = _mapping(mapping_file, map_options)
        if settings.database_url is None:
            settings.ensure_data_dir()
        with LedgerStore.from_url(settings.resolved_database_url) as store:
            try:
                result = import_ledger(
                    sources, mapping, store, skip_invalid=skip_invalid, report_dir=report_dir
                )
            except LedgerRejected as rejected:
                print_report(rejected.report, rejected.report_path)
                raise
            _print_result(result, store.display_url)


def _print_result(result: ImportResult, database: str) -> None:
    print_report(result.report, result.report_path)
    for table, path in result.rejected_files.items():
        console.print(f"rejected {table} rows written to {path}", highlight=False)
    written = ", ".join(f"{table} {count}" for table, count in result.counts.items())
    console.print(f"[green]imported into {database}:[/] {written}", highlight=False)


app.command("stats")(ledger_stats_command.stats)
