"""`payrisk generate`: write a synthetic ledger (and its oracle) to files or the database."""

from __future__ import annotations

from datetime import date, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, cast

import typer
from rich.progress import track
from rich.table import Table

from payrisk.commands._common import console, load_settings, user_errors

if TYPE_CHECKING:
    from ledger.synthetic import GeneratedLedger, GeneratorConfig, LedgerFormat

CustomersOpt = Annotated[int, typer.Option("--customers", min=1, help="How many customers.")]
YearsOpt = Annotated[
    float, typer.Option("--years", min=0.1, max=50, help="Years of history before --end.")
]
SeedOpt = Annotated[int, typer.Option("--seed", min=0, help="Same seed, same files.")]
EndOpt = Annotated[
    datetime | None,
    typer.Option("--end", formats=["%Y-%m-%d"], help="Last day of the ledger (default: today)."),
]
OutOpt = Annotated[
    Path | None,
    typer.Option(
        "--out",
        file_okay=False,
        help="Folder for the ledger files and truth/oracle (default: DATA_DIR/generated).",
    ),
]
FormatOpt = Annotated[str, typer.Option("--format", help="csv or parquet.")]
ToDbOpt = Annotated[
    bool,
    typer.Option(
        "--to-db",
        help="Write the ledger into the configured database instead of files "
        "(the oracle still goes to OUT/truth).",
    ),
]
PartitionedOpt = Annotated[
    bool,
    typer.Option(
        "--partitioned",
        help="With --format parquet: one folder per table of part-NNNNN.parquet files, one "
        "per chunk of customers (the Dask engine's input); never holds the ledger in memory.",
    ),
]

ShockDateOpt = Annotated[
    datetime | None,
    typer.Option(
        "--shock-date",
        formats=["%Y-%m-%d"],
        help="From this day payment discipline worsens for every customer (a recession); "
        "default: no shock, same files as without the option.",
    ),
]
ShockStrengthOpt = Annotated[
    float,
    typer.Option(
        "--shock-strength",
        min=-5.0,
        max=5.0,
        help="With --shock-date: how much worse, in logit of P(late) (1.0 roughly doubles "
        "the late share of an average customer; days late grow too).",
    ),
]


def generate(
    customers: CustomersOpt = 400,
    years: YearsOpt = 3.0,
    seed: SeedOpt = 7,
    end: EndOpt = None,
    out: OutOpt = None,
    fmt: FormatOpt = "csv",
    to_db: ToDbOpt = False,
    partitioned: PartitionedOpt = False,
    shock_date: ShockDateOpt = None,
    shock_strength: ShockStrengthOpt = 1.0,
) -> None:
    """Generate a realistic synthetic ledger and the oracle (true late probabilities).

    About 22 invoices per customer and year: --customers 400 --years 3 gives ~27k
    invoices, --customers 15000 --years 3 about 1M. The oracle (truth/oracle.csv) is
    for judging models, never a feature.
    """
    from ledger.synthetic import FORMATS, GeneratorConfig, generate_chunks, write_generated
    from ledger.synthetic.writer import GeneratedFilesError

    settings = load_settings()
    with user_errors():
        if fmt not in FORMATS:
            raise GeneratedFilesError(f"--format {fmt!r}: use one of {', '.join(FORMATS)}")
        file_format = cast("LedgerFormat", fmt)
        if partitioned and (fmt != "parquet" or to_db):
            raise GeneratedFilesError("--partitioned needs --format parquet and no --to-db")
        end_date = end.date() if end is not None else date.today()
        config = GeneratorConfig(
            customers=customers,
            years=years,
            seed=seed,
            end=end_date,
            shock_date=shock_date.date() if shock_date is not None else None,
            shock_strength=shock_strength,
        )
        out_dir = out if out is not None else settings.data_dir / "generated"
        chunks = track(
            generate_chunks(config),
            total=config.chunk_count,
            description="generating",
            console=console,
            transient=True,
            disable=not console.is_terminal,
        )
        if to_db:
            counts = _to_database(list(chunks), out_dir, file_format)
        elif partitioned:
            from ledger.synthetic.partitioned import write_partitioned

            counts = write_partitioned(chunks, out_dir)
        else:
            counts = write_generated(chunks, out_dir, file_format)
    _print_counts(counts, config, out_dir, to_db)


def _to_database(
    chunks: list[GeneratedLedger], out_dir: Path, file_format: LedgerFormat
) -> dict[str, int]:
    """Upsert the whole ledger in one transaction; write only the oracle to files."""
    import pandas as pd

    from ledger.frames import Ledger
    from ledger.store import LedgerStore
    from ledger.synthetic import GeneratedLedger, write_generated

    settings = load_settings()
    tables = {
        name: pd.concat([chunk.ledger.table(name) for chunk in chunks], ignore_index=True)
        for name in chunks[0].ledger.tables()
    }
    oracle = pd.concat([chunk.oracle for chunk in chunks], ignore_index=True)
    if settings.database_url is None:
        settings.ensure_data_dir()
    with LedgerStore.from_url(settings.resolved_database_url) as store:
        store.migrate()
        counts = store.upsert(Ledger(**tables))
        console.print(f"written into {store.display_url}", highlight=False, soft_wrap=True)
    oracle_counts = write_generated(
        GeneratedLedger(Ledger(**tables), oracle), out_dir, file_format, ledger_files=False
    )
    return {**counts, **oracle_counts}


def _print_counts(
    counts: dict[str, int], config: GeneratorConfig, out_dir: Path, to_db: bool
) -> None:
    console.print(
        f"generated {config.customers} customers, {config.years:g} years to "
        f"{config.end:%Y-%m-%d}, seed {config.seed}",
        highlight=False,
    )
    if config.shock_date is not None:
        console.print(
            f"market shock from {config.shock_date:%Y-%m-%d}: discipline "
            f"{config.shock_strength:+g} logit",
            highlight=False,
        )
    table = Table()
    table.add_column("table")
    table.add_column("rows", justify="right")
    for name, rows in counts.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    where = "the database" if to_db else str(out_dir)
    console.print(
        f"ledger in {where}; oracle in {out_dir / 'truth'} (never a feature)",
        highlight=False,
        soft_wrap=True,
    )


def register(app: typer.Typer) -> None:
    """Add ``payrisk generate`` to the root app."""
    app.command("generate")(generate)
