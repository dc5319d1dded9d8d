"""Validating a ledger: pandera schemas from the contract plus cross-table rules.

``validate_ledger`` never raises for a bad row: it returns a ``ValidationReport`` with
one ``Rejection`` per bad value, so a user sees every problem at once. Lines are
1-based lines of the source file counting the header as line 1, so the first data row
is line 2 (``ledger.reading`` explains Parquet and multi-line values).
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd
from pandera.errors import SchemaErrors
from rich.table import Table as RichTable

from ledger.contract import TABLES, Table
from ledger.rules import (
    DERIVED_FROM,
    REFERENCES,
    ROW_RULES,
    Referenced,
    duplicate_reason,
    first_rejected_at,
)
from ledger.table_schemas import passes_schema, schema_for

REPORT_COLUMNS = ("table", "file", "line", "column", "value", "reason")
# UTF-8 with a byte-order mark, so spreadsheet programs show Hebrew text correctly.
OUTPUT_ENCODING = "utf-8-sig"


@dataclass(frozen=True)
class Rejection:
    """One bad value: where it is and why.

    ``line`` is the 1-based line in the source file counting the header as line 1, so the
    first data row is line 2. ``value`` is the value as written (None when missing).
    """

    table: str
    file: str
    line: int
    column: str
    value: str | None
    reason: str


@dataclass(frozen=True)
class TableCounts:
    """Rows of one table: read from its file, accepted, rejected (read = accepted + rejected)."""

    read: int
    accepted: int
    rejected: int


@dataclass(frozen=True)
class ValidationReport:
    """Every rejection of a ledger, the row counts per table, and notices for the user."""

    rejections: tuple[Rejection, ...] = ()
    counts: Mapping[str, TableCounts] = field(default_factory=dict)
    notices: tuple[str, ...] = ()

    @property
    def ok(self) -> bool:
        return not self.rejections

    def rejected_lines(self, table: str) -> set[int]:
        """Source lines of ``table`` with at least one rejection."""
        return {rejection.line for rejection in self.rejections if rejection.table == table}

    def to_frame(self) -> pd.DataFrame:
        """The rejections as a DataFrame with ``REPORT_COLUMNS``."""
        rows = [[getattr(r, name) for name in REPORT_COLUMNS] for r in self.rejections]
        return pd.DataFrame(rows, columns=list(REPORT_COLUMNS))

    def write_csv(self, path: Path) -> Path:
        """Write the rejections as CSV (UTF-8 with BOM, ``REPORT_COLUMNS``); returns the path."""
        self.to_frame().to_csv(path, index=False, encoding=OUTPUT_ENCODING)
        return path

    def rejections_table(self, limit: int = 50) -> RichTable:
        """The first ``limit`` rejections as a rich table."""
        table = RichTable(title=f"{len(self.rejections)} rejected value(s)", show_lines=False)
        for name in ("file", "line", "column", "value", "reason"):
            table.add_column(name, overflow="fold", justify="right" if name == "line" else "left")
        for rejection in self.rejections[:limit]:
            value = "" if rejection.value is None else rejection.value
            table.add_row(
                rejection.file, str(rejection.line), rejection.column, value, rejection.reason
            )
        return table

    def counts_table(self) -> RichTable:
        """Rows read, accepted and rejected per table as a rich table."""
        table = RichTable(title="rows per table")
        for name in ("table", "read", "accepted", "rejected"):
            table.add_column(name, justify="left" if name == "table" else "right")
        for name, counts in self.counts.items():
            table.add_row(name, str(counts.read), str(counts.accepted), str(counts.rejected))
        return table


def schema_rejections(
    table: Table, frame: pd.DataFrame, file: str, lines: pd.Series
) -> list[Rejection]:
    """Rejections for one table's frame (canonical dtypes) from its pandera schema."""
    if passes_schema(table, frame):
        return []  # certainly clean: spare the full schema run (one-row API upserts)
    try:
        schema_for(table).validate(frame, lazy=True)
    except SchemaErrors as errors:
        return _failures_to_rejections(table, frame, file, lines, errors.failure_cases)
    return []


def _failures_to_rejections(
    table: Table, frame: pd.DataFrame, file: str, lines: pd.Series, failures: pd.DataFrame
) -> list[Rejection]:
    if failures["index"].isna().any():
        # A failure without a row is a wrong dtype or a missing column: a caller's bug.
        raise TypeError(f"{table.name} frame is not in canonical dtypes: {failures.to_dict()}")
    row_rule_columns = {rule.reason: rule.column for rule in ROW_RULES.get(table.name, ())}
    rejections = []
    for failure in failures.to_dict("records"):
        column, reason, index = str(failure["column"]), str(failure["check"]), failure["index"]
        if failure["schema_context"] == "DataFrameSchema":
            if row_rule_columns.get(reason) != column:
                continue  # pandera lists every column of a failing row; keep the rule's own
            reason = _row_rule_reason(table, frame, index, reason)
        elif reason == "not_nullable":
            reason = "required value is missing"
        elif reason == "field_uniqueness":
            reason = duplicate_reason(frame[column], lines, index)
        line = int(lines.loc[index])
        rejections.append(
            Rejection(table.name, file, line, column, _text(frame.at[index, column]), reason)
        )
    return rejections


def _row_rule_reason(table: Table, frame: pd.DataFrame, index: Any, reason: str) -> str:
    rule = next(rule for rule in ROW_RULES[table.name] if rule.reason == reason)
    return f"{reason} ({rule.other} is {_text(frame.at[index, rule.other])})"


def _text(value: object) -> str | None:
    """A value as the user would write it: dates as YYYY-MM-DD, missing as None."""
    if value is None or value is pd.NA or value is pd.NaT:
        return None
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, pd.Timestamp):
        return value.strftime("%Y-%m-%d")
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def validate_ledger(
    frames: Mapping[str, pd.DataFrame],
    *,
    files: Mapping[str, str] | None = None,
    lines: Mapping[str, pd.Series] | None = None,
    known_ids: Mapping[str, Collection[str]] | None = None,
    prior_rejections: Sequence[Rejection] = (),
    notices: Sequence[str] = (),
) -> ValidationReport:
    """Check every row of the given tables (canonical dtypes) and report, never raise.

    ``files``/``lines`` say where each row came from (default: the table name, and
    line = row position + 2 as if read from a CSV with a header on line 1).
    ``known_ids`` holds ids already stored (``{"customers": [...], "invoices": [...]}``):
    a reference to one of them is valid. ``prior_rejections`` (e.g. unparseable values
    found while parsing) count as rejected rows too, and a row rejected for any reason
    makes the rows that refer to it rejected in turn (an invoice whose customer row was
    rejected), so the accepted counts are exactly what an import would write.
    """
    files = {name: (files or {}).get(name, name) for name in frames}
    lines = {name: (lines or {}).get(name, _default_lines(frame)) for name, frame in frames.items()}
    rejections = list(prior_rejections)
    already = {(r.table, r.line, r.column) for r in rejections}
    for name, frame in frames.items():
        if frame.empty:
            continue  # no row to reject (an API upsert sends one table of four)
        found = schema_rejections(TABLES[name], frame, files[name], lines[name])
        # A value that failed to parse is already reported; its NA is no second problem.
        rejections += [r for r in found if (r.table, r.line, r.column) not in already]
    rejections += _reference_rejections(frames, files, lines, rejections, known_ids)
    rejections.sort(key=_report_order)
    return ValidationReport(tuple(rejections), _counts(frames, rejections), tuple(notices))


def _reference_rejections(
    frames: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    lines: Mapping[str, pd.Series],
    rejections: list[Rejection],
    known_ids: Mapping[str, Collection[str]] | None,
) -> list[Rejection]:
    """Rows whose ids refer to no valid row, in table order so rejections cascade."""
    found: list[Rejection] = []
    for name in (name for name in TABLES if name in frames and not frames[name].empty):
        for (table, column), target in REFERENCES.items():
            derives_target = DERIVED_FROM.get(target, ("",))[0] == name
            if table != name or (target not in frames and derives_target):
                continue  # these rows define the absent table: they cannot be orphans
            referenced = _referenced(target, frames, files, lines, rejections + found, known_ids)
            ids = frames[name][column]
            reasons = referenced.reasons(ids).dropna()
            found += [
                Rejection(name, files[name], int(line), column, _text(value), reason)
                for line, value, reason in zip(
                    lines[name][reasons.index], ids[reasons.index], reasons, strict=True
                )
            ]
    return found


def _referenced(
    target: str,
    frames: Mapping[str, pd.DataFrame],
    files: Mapping[str, str],
    lines: Mapping[str, pd.Series],
    rejections: list[Rejection],
    known_ids: Mapping[str, Collection[str]] | None,
) -> Referenced:
    """The valid ids of ``target``: accepted rows of its file (or the table it derives
    from) plus those already stored; and where rejected candidates were."""
    source, column = (target, TABLES[target].key)
    if target not in frames and target in DERIVED_FROM:
        source, column = DERIVED_FROM[target]
    known = set(known_ids.get(target, ())) if known_ids is not None else set()
    searched = _searched_text(target, source, files, known_ids is not None)
    if source not in frames:
        return Referenced(target, known, {}, searched)
    ids = frames[source][column]
    rejected_lines = _lines_of(rejections, source)
    if not rejected_lines:  # the usual case: spare the frame work of finding them
        return Referenced(target, known | set(ids.dropna().to_numpy(dtype=object)), {}, searched)
    rejected = lines[source].isin(rejected_lines)
    valid = known | set(ids[~rejected].dropna().to_numpy(dtype=object))
    rejected_at = first_rejected_at(ids, rejected, files[source], lines[source])
    return Referenced(target, valid, rejected_at, searched)


def _searched_text(target: str, source: str, files: Mapping[str, str], with_store: bool) -> str:
    place = files.get(source, f"the {source} table (no {source} file given)")
    if source != target:
        place = f"{place} (customers derived from invoices)"
    return f"{place} nor in the database" if with_store else place


def _lines_of(rejections: list[Rejection], table: str) -> set[int]:
    return {rejection.line for rejection in rejections if rejection.table == table}


def _default_lines(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(range(2, len(frame) + 2), index=frame.index, name="line")


def _report_order(rejection: Rejection) -> tuple[int, str, int, str]:
    order = list(TABLES).index(rejection.table)
    return (order, rejection.file, rejection.line, rejection.column)


def _counts(
    frames: Mapping[str, pd.DataFrame], rejections: list[Rejection]
) -> dict[str, TableCounts]:
    counts = {}
    for name in TABLES:
        if name not in frames:
            continue
        read = len(frames[name])
        rejected = len(_lines_of(rejections, name))
        counts[name] = TableCounts(read=read, accepted=read - rejected, rejected=rejected)
    return counts
