"""`payrisk ledger stats`: what the stored (or a folder's) ledger looks like, as rich tables."""

from __future__ import annotations

import math
from datetime import datetime
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from payrisk.commands._common import console, load_settings, user_errors
from payrisk.commands._ledger_input import LedgerOpt, read_ledger_source

if TYPE_CHECKING:
    import pandas as pd

    from ledger.stats import LedgerStats

AsOfOpt = Annotated[
    datetime | None,
    typer.Option(
        "--as-of", formats=["%Y-%m-%d"], help="Use only facts up to this day (default: the last)."
    ),
]


def stats(ledger_dir: LedgerOpt = None, as_of: AsOfOpt = None) -> None:
    """Counts, date range, open amount, late shares, customer risk spread and stress, by currency.

    Late = settled after the due date. Customer late rates are over customers with at
    least 5 paid invoices. Stressed = payments in some 3 months fell by half against the
    3 months before while days late rose by 15 or more (from the ledger alone).
    """
    from ledger.stats import ledger_stats

    settings = load_settings()
    with user_errors():
        ledger, source = read_ledger_source(settings, ledger_dir)
        result = ledger_stats(ledger, as_of.date() if as_of is not None else None)
    _print_overview(result, source)
    _print_summary(result)


def _print_overview(result: LedgerStats, source: str) -> None:
    def day(value: pd.Timestamp | None) -> str:
        return "—" if value is None else f"{value:%Y-%m-%d}"

    console.print(f"ledger: {source}", highlight=False, soft_wrap=True)
    console.print(
        f"dates: {day(result.first_date)} to {day(result.last_date)} (as of {day(result.as_of)})",
        highlight=False,
    )
    counts = ", ".join(f"{name} {rows:,}" for name, rows in result.row_counts.items())
    console.print(f"rows: {counts}", highlight=False)


_AMOUNT_COLUMNS = (  # (summary column, header, format)
    ("customers", "customers", "{:,.0f}"),
    ("invoices", "invoices", "{:,.0f}"),
    ("open_count", "open", "{:,.0f}"),
    ("open_amount", "open amount", "{:,.0f}"),
    ("late_share_count", "late n", "{:.1%}"),
    ("late_share_amount", "late amt", "{:.1%}"),
)
_RISK_COLUMNS = (
    ("rated_customers", "customers rated", "{:,.0f}"),
    ("late_rate_p10", "late rate p10", "{:.2f}"),
    ("late_rate_p50", "p50", "{:.2f}"),
    ("late_rate_p90", "p90", "{:.2f}"),
    ("stressed_customers", "stressed", "{:,.0f}"),
)


def _print_summary(result: LedgerStats) -> None:
    titles = (
        (
            _AMOUNT_COLUMNS,
            "Open and late, by currency (amounts never summed across currencies)",
            "late n / late amt: share of settled invoices paid after the due date",
        ),
        (
            _RISK_COLUMNS,
            "Customer late rates (>= 5 paid invoices) and stress signals",
            "stressed: payments in 3 months fell by half vs the 3 before, days late rose 15+",
        ),
    )
    for columns, title, caption in titles:
        table = Table(title=title, title_justify="left", caption=caption, caption_justify="left")
        table.add_column("currency", no_wrap=True)
        for _, header, _ in columns:
            table.add_column(header, justify="right", no_wrap=True)
        for currency, row in result.summary.iterrows():
            cells = [_cell(row[column], text) for column, _, text in columns]
            table.add_row(str(currency), *cells, style="bold" if currency == "all" else None)
        console.print(table)


def _cell(value: object, text: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    return text.format(value)
