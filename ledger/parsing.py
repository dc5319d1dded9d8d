"""Turning one raw table into contract columns and canonical dtypes, reporting bad values.

Columns are renamed by the mapping, value maps applied, then each value is parsed by
its column's kind (date, amount, flag, id/text). A value that does not parse becomes a
``Rejection`` with its line, column, value and reason: it is never coerced to NaN
silently. A required column that is absent altogether is a ``MappingError``.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import pandas as pd

from ledger.contract import TABLES, Column, Table
from ledger.frames import conform, dtype_of
from ledger.mapping import ColumnMapping, MappingError, MapRule
from ledger.reading import RawTable
from ledger.validation import Rejection

_FLAG_WORDS = {
    **dict.fromkeys(("true", "t", "yes", "y", "1"), True),
    **dict.fromkeys(("false", "f", "no", "n", "0"), False),
}
_DATE_PATTERNS = {
    "us": ("%m/%d/%Y", "%m-%d-%Y", "%m.%d.%Y"),
    "eu": ("%d/%m/%Y", "%d.%m.%Y", "%d-%m-%Y"),
}
_DATE_FORMAT_TEXT = {"iso": "YYYY-MM-DD", "us": "MM/DD/YYYY", "eu": "DD/MM/YYYY"}
_TIME_SUFFIXES = ("", " %H:%M", " %H:%M:%S")
# A ledger date outside this is a typo or a sentinel such as 9999-12-31 (map it to null).
_DATE_RANGE = (pd.Timestamp("1900-01-01"), pd.Timestamp("2199-12-31"))
_DATE_RANGE_TEXT = "1900 and 2199"
_UTC_OFFSET = r"(\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?)(?:Z|[+-]\d{2}:?\d{2})$"
# Spaces, no-break spaces and apostrophes group thousands in some locales (1 234,50).
_GROUPING_CHARACTERS = r"[\s\u00a0\u202f']"


@dataclass(frozen=True)
class ParsedTable:
    """One table in contract columns and canonical dtypes (unparseable values are NA)."""

    table: str
    file: str
    frame: pd.DataFrame
    lines: pd.Series
    raw: pd.DataFrame
    rejections: tuple[Rejection, ...]
    notices: tuple[str, ...]
    used_rules: tuple[MapRule, ...]


def contract_names(raw: RawTable, mapping: ColumnMapping) -> tuple[dict[str, str], list[str]]:
    """source column -> contract column for one file, and notices for ignored columns.

    Raises ``MappingError`` when two source columns land on one contract column or a
    required column is missing.
    """
    table = TABLES[raw.table]
    rules = mapping.rules_for(raw.table)
    renames: dict[str, str] = {}
    notices = []
    for position, source in enumerate(raw.frame.columns, start=1):
        if source in rules:
            renames[source] = rules[source].column
        elif source in table.column_names:
            renames[source] = source
        elif source:
            notices.append(f"{raw.file}: column {source!r} is not in the contract; ignored")
        else:
            notices.append(f"{raw.file}: column {position} has no name; ignored")
    _refuse_collisions(raw, renames)
    _require_columns(raw, set(renames.values()))
    return renames, notices


def _refuse_collisions(raw: RawTable, renames: dict[str, str]) -> None:
    by_target: dict[str, list[str]] = {}
    for source, target in renames.items():
        by_target.setdefault(target, []).append(source)
    for target, sources in by_target.items():
        if len(sources) > 1:
            raise MappingError(
                f"{raw.file} line 1: columns {sources} would all become "
                f"{raw.table}.{target}; map only one of them"
            )


def _require_columns(raw: RawTable, present: set[str]) -> None:
    missing = [name for name in TABLES[raw.table].required_names if name not in present]
    if not missing:
        return
    header = [str(name) for name in raw.frame.columns]
    hint = ""
    if len(header) == 1 and any(sep in header[0] for sep in ";\t|"):
        hint = "; the header looks like one column: set the delimiter in the mapping file"
    raise MappingError(
        f"{raw.file} line 1: required column {missing[0]!r} of the {raw.table} table is missing"
        f"{f' (also {missing[1:]})' if len(missing) > 1 else ''}; the header has {header}; "
        f"map a source column onto it with --map SRC={raw.table}.{missing[0]}{hint}"
    )


def parse_table(raw: RawTable, mapping: ColumnMapping) -> ParsedTable:
    """The raw table renamed, value-mapped and parsed; bad values reported, left NA."""
    table = TABLES[raw.table]
    renames, notices = contract_names(raw, mapping)
    if raw.skipped_blank_lines:
        notices.append(f"{raw.file}: {raw.skipped_blank_lines} blank line(s) skipped")
    columns: dict[str, pd.Series] = {}
    rejections: list[Rejection] = []
    for source, name in renames.items():
        column = table.column(name)
        values = raw.frame[source]
        value_map = mapping.value_map(raw.table, name)
        parsed, bad, reason = parse_values(values, column, mapping, value_map)
        columns[name] = parsed
        rejections += _rejections(raw, column, values, bad, reason)
    frame = conform(table, with_all_columns(table, pd.DataFrame(columns, index=raw.frame.index)))
    rules = mapping.rules_for(raw.table)
    used = tuple(rules[source] for source in renames if source in rules)
    return ParsedTable(
        table=raw.table,
        file=raw.file,
        frame=frame,
        lines=raw.lines.reset_index(drop=True),
        raw=raw.frame,
        rejections=tuple(rejections),
        notices=tuple(notices),
        used_rules=used,
    )


def with_all_columns(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """``frame`` plus every absent contract column, all missing, in its canonical dtype."""
    # ``conform`` cannot fill a float or date column with pd.NA, so fill them here.
    absent = {
        column.name: pd.Series(index=frame.index, dtype=dtype_of(column))
        for column in table.columns
        if column.name not in frame.columns
    }
    return frame.assign(**absent)


def _rejections(
    raw: RawTable, column: Column, values: pd.Series, bad: pd.Series, reason: str
) -> list[Rejection]:
    if not bad.any():
        return []
    bad_values = values[bad].astype("string")
    return [
        Rejection(raw.table, raw.file, line, column.name, str(value), reason)
        for line, value in zip(raw.lines[bad].astype(int), bad_values, strict=True)
    ]


def parse_values(
    values: pd.Series,
    column: Column,
    mapping: ColumnMapping,
    value_map: dict[str, str | None],
) -> tuple[pd.Series, pd.Series, str]:
    """One source column parsed for a contract column: (parsed, bad mask, reason if bad).

    The value map applies first; a value mapped to None is missing on purpose, not bad.
    Typed Parquet columns (dates, numbers, booleans) are taken as they are.
    """
    if value_map:
        text = as_text(values)
        values = text.where(~text.isin(list(value_map)), text.map(value_map)).astype("string")
    present = values.notna()
    if column.kind == "date":
        parsed, reason = _parse_dates(values, mapping.date_format)
    elif column.kind == "amount":
        parsed, reason = _parse_amounts(values, mapping.decimal)
    elif column.kind == "flag":
        parsed, reason = _parse_flags(values)
    else:
        parsed, reason = as_text(values), ""
    return parsed, present & parsed.isna(), reason


def as_text(values: pd.Series) -> pd.Series:
    """Values as stripped pandas strings (integral floats from Parquet lose their ``.0``)."""
    if pd.api.types.is_float_dtype(values) and (values.dropna() % 1 == 0).all():
        values = values.astype("Int64")
    text = values.astype("string").str.strip()
    return text.mask(text == "")


def _parse_dates(values: pd.Series, date_format: str) -> tuple[pd.Series, str]:
    shown = _DATE_FORMAT_TEXT.get(date_format, repr(date_format))
    reason = f"not a date in the {date_format} format ({shown}) between {_DATE_RANGE_TEXT}"
    if not pd.api.types.is_string_dtype(values) and not pd.api.types.is_object_dtype(values):
        parsed = pd.to_datetime(values, errors="coerce")
        return _in_range(parsed.dt.tz_localize(None)), reason
    text = as_text(values)
    if date_format == "iso":
        # The business date is the local one: drop a UTC offset rather than convert.
        local = text.str.replace(_UTC_OFFSET, r"\1", regex=True)
        return _in_range(pd.to_datetime(local, format="ISO8601", errors="coerce")), reason
    parsed = pd.Series(pd.NaT, index=text.index, dtype="datetime64[ns]")
    for pattern in _DATE_PATTERNS.get(date_format, (date_format,)):
        for suffix in _TIME_SUFFIXES:
            todo = parsed.isna() & text.notna()
            if not todo.any():
                break
            found = pd.to_datetime(text[todo], format=pattern + suffix, errors="coerce")
            parsed = parsed.where(~todo, _in_range(found).reindex(text.index))
    return parsed, reason


def _in_range(parsed: pd.Series) -> pd.Series:
    """Dates at midnight in ``datetime64[ns]``; NaT outside the plausible range."""
    plausible = parsed.between(*_DATE_RANGE)
    return parsed.where(plausible).astype("datetime64[ns]").dt.normalize()


def _parse_amounts(values: pd.Series, decimal: str) -> tuple[pd.Series, str]:
    reason = f"not a number (decimal separator {decimal!r})"
    if pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values):
        return values.astype("float64"), reason
    thousands = "," if decimal == "." else "."
    compact = as_text(values).str.replace(_GROUPING_CHARACTERS, "", regex=True)
    number = (
        rf"[+-]?(?:\d{{1,3}}(?:{re.escape(thousands)}\d{{3}})+|\d*)(?:{re.escape(decimal)}\d+)?"
    )
    well_formed = compact.str.fullmatch(number).fillna(False) & compact.str.contains(r"\d")
    plain = compact.where(well_formed.astype(bool)).str.replace(thousands, "", regex=False)
    plain = plain.str.replace(decimal, ".", regex=False)
    return pd.to_numeric(plain, errors="coerce").astype("float64"), reason


def _parse_flags(values: pd.Series) -> tuple[pd.Series, str]:
    reason = "not a flag: expected true/false, yes/no, y/n, t/f or 1/0 (or a value map)"
    if pd.api.types.is_bool_dtype(values):
        return values.astype("boolean"), reason
    words = as_text(values).str.lower()
    parsed = words.map(_FLAG_WORDS).astype("boolean")
    return parsed.where(words.isin(list(_FLAG_WORDS))).astype("boolean"), reason
