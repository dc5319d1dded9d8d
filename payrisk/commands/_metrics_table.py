"""The tables the model commands print: headline metrics per scorer, rows per split.

Rich tables sized for an 80-column terminal; a metric that is undefined (NaN, e.g. a
ROC AUC on a slice with one class) prints as an em dash, not as ``nan``.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from rich import box
from rich.table import Table

from payrisk.commands._common import console

if TYPE_CHECKING:
    import pandas as pd


def format_metric(value: float) -> str:
    """A metric with three decimals; an em dash when it is undefined."""
    return "—" if value is None or math.isnan(value) else f"{value:.3f}"


def print_metrics_table(metrics: pd.DataFrame, title: str) -> None:
    """The headline metrics, one row per scorer, as two rich tables: the ranking (ROC and
    PR AUC, capture) and the probabilities (Brier scores, log loss)."""
    from training.plots import HEADLINE_METRICS, PROBABILITY_METRICS, headline_table

    table_data = headline_table(metrics)
    probabilities = [label for key, label in HEADLINE_METRICS if key in PROBABILITY_METRICS]
    ranking = [label for key, label in HEADLINE_METRICS if key not in PROBABILITY_METRICS]
    _print_scorer_table(table_data[ranking], f"{title}: ranking")
    _print_scorer_table(table_data[probabilities], f"{title}: probabilities (lower is better)")


def _print_scorer_table(table_data: pd.DataFrame, title: str) -> None:
    # Two-line headers and light borders keep 6 columns readable in 80 characters.
    table = Table(
        title=title,
        title_justify="left",
        box=box.SIMPLE_HEAD,
        padding=(0, 1),
        collapse_padding=True,
        pad_edge=False,
    )
    table.add_column("scorer", min_width=14)
    for column in table_data.columns:
        header = str(column).replace("@", " @").rsplit(" ", 1)
        table.add_column("\n".join(header), justify="right", no_wrap=True)
    for scorer, values in table_data.iterrows():
        style = "bold" if scorer == "model" else None
        table.add_row(str(scorer), *(format_metric(value) for value in values), style=style)
    console.print(table)


def print_splits(split_summary: pd.DataFrame) -> None:
    """Rows, labeled rows and late share per split, with each split's as-of dates."""
    table = Table(title="Rows per split", title_justify="left")
    for column in ("split", "as-of from", "as-of to", "rows", "labeled", "late share"):
        table.add_column(column, justify="left" if column == "split" else "right")
    for line in split_summary.to_dict("records"):
        table.add_row(
            str(line["split"]),
            f"{line['as_of_from']:%Y-%m-%d}",
            f"{line['as_of_to']:%Y-%m-%d}",
            str(line["rows"]),
            str(line["rows_bucket_known"]),
            format_metric(line["late_share"]),
        )
    console.print(table)
