"""Ledger ingest for the API: request rows -> canonical frames -> the import's rules -> upsert.

The same ``ledger.validation.validate_ledger`` as the file import, with the ids already
stored as ``known_ids`` (looked up by key, not loaded whole). References must resolve to
the request's own rows or stored ones: unlike an invoices-only file, an API request never
creates customers implicitly. Any rejection rejects the whole request and nothing is
written; otherwise one ``LedgerStore.upsert`` writes every table in one transaction.

A request of one row (every ``PUT``, ``POST /v1/activities``) first tries a shortcut
without frames: it answers only "certainly accepted", asking the import's very checks
(``ledger.rules``) of the row's Python values, and writes with ``LedgerStore.upsert_row``.
On any doubt (a value that may break a rule, an id not stored) it writes nothing and the
frame path runs, which alone words rejections. So it changes no result, only the cost:
the frames and the schema's machinery are nearly all of a one-row request's CPU.
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from datetime import date
from typing import Any

import numpy as np
import pandas as pd
import pandera.pandas as pa
from pydantic import BaseModel

from ledger.contract import TABLES, Table
from ledger.errors import PayriskError
from ledger.frames import Ledger, conform, empty_frame
from ledger.rules import COLUMN_CHECKS, REFERENCES, ROW_RULES
from ledger.store import LedgerStore
from ledger.validation import Rejection, validate_ledger
from serving.schemas.ledger import RowError


class IngestRejected(PayriskError):
    """Rows of a request that break the ledger's rules; nothing was stored."""

    def __init__(self, errors: Sequence[RowError]) -> None:
        self.errors = list(errors)
        rows = {(error.table, error.index) for error in self.errors}
        super().__init__(f"{len(rows)} row(s) rejected; nothing was stored")


def records_frame(table_name: str, records: Sequence[BaseModel]) -> pd.DataFrame:
    """Request rows of one table as a frame in the contract's columns and canonical dtypes."""
    table = TABLES[table_name]
    if not records:
        return empty_frame(table)
    rows = [record.model_dump() for record in records]
    raw = pd.DataFrame.from_records(rows, columns=list(table.column_names))
    return conform(table, raw)


def _referenced_ids(frames: Mapping[str, pd.DataFrame]) -> dict[str, set[str]]:
    """Per table, the ids the request refers to that its own rows do not define."""
    wanted: dict[str, set[str]] = {}
    for (table, column), target in REFERENCES.items():
        if table not in frames:
            continue
        ids = frames[table][column].dropna()
        defined = frames[target][TABLES[target].key] if target in frames else ids.iloc[:0]
        missing = set(ids[~ids.isin(defined)].to_numpy(dtype=object))
        wanted.setdefault(target, set()).update(missing)
    return wanted


def _row_error(rejection: Rejection) -> RowError:
    return RowError(
        table=rejection.table,
        index=rejection.line,
        field=rejection.column,
        value=rejection.value,
        reason=rejection.reason,
    )


def _positions(frame: pd.DataFrame) -> pd.Series:
    return pd.Series(np.arange(len(frame)), index=frame.index)


def check_rows(store: LedgerStore, frames: Mapping[str, pd.DataFrame]) -> dict[str, pd.DataFrame]:
    """Every table's frame (empty where the request had none), or ``IngestRejected``."""
    complete = {
        name: frames[name] if name in frames else empty_frame(table)
        for name, table in TABLES.items()
    }
    known_ids = {
        target: store.ids_present(target, ids)
        for target, ids in _referenced_ids(complete).items()
        if ids
    }
    # Rows are numbered from 0 in their table's list, as the request numbers them.
    lines = {name: _positions(rows) for name, rows in complete.items()}
    report = validate_ledger(complete, lines=lines, known_ids=known_ids)
    if not report.ok:
        raise IngestRejected([_row_error(rejection) for rejection in report.rejections])
    return complete


def ingest(store: LedgerStore, records: Mapping[str, Sequence[BaseModel]]) -> dict[str, int]:
    """Validate and upsert request rows (table -> rows) in one transaction; rows per table.

    A request of one row tries ``ingest_clean_row`` first, then, if it declines, the frames.
    """
    if sum(len(rows) for rows in records.values()) == 1:
        ((table_name, (record,)),) = ((name, rows) for name, rows in records.items() if rows)
        counts = ingest_clean_row(store, table_name, record)
        if counts is not None:
            return counts
    return ingest_frames(store, records)


def ingest_frames(store: LedgerStore, records: Mapping[str, Sequence[BaseModel]]) -> dict[str, int]:
    """``ingest`` the general way, through frames: any request, rejections worded."""
    frames = {name: records_frame(name, rows) for name, rows in records.items()}
    complete = check_rows(store, frames)
    counts = store.upsert(Ledger.from_frames(**complete))
    return {name: counts.get(name, 0) for name in TABLES}


def ingest_clean_row(
    store: LedgerStore, table_name: str, record: BaseModel
) -> dict[str, int] | None:
    """Upsert one row without frames if ``ingest_frames`` would certainly accept it.

    Rows per table, or None, having written nothing, on any doubt (module docstring).
    """
    table = TABLES[table_name]
    dumped = record.model_dump()
    row = {name: dumped.get(name) for name in table.column_names}
    if not _certainly_valid(table, row):
        return None
    references = [
        (target, str(row[column]))
        for (referring, column), target in REFERENCES.items()
        if referring == table_name and row[column] is not None
    ]
    if not store.upsert_row(table_name, row, references):
        return None  # an id is not stored: the frame path says which
    return {name: int(name == table_name) for name in TABLES}


# The Python type ``conform`` leaves unchanged, per column kind; any other is a doubt.
_EXACT_TYPES = {"id": str, "text": str, "date": date, "amount": float, "flag": bool}
# Canonical dates are datetime64[ns]: the dates it can hold.
_DATE_RANGE = (pd.Timestamp.min.date(), pd.Timestamp.max.date())


def _certainly_valid(table: Table, row: Mapping[str, Any]) -> bool:
    """True only when the table's schema (``ledger.table_schemas``) would pass this row as it
    is: canonical types, required values present, the same ``Check`` objects, row rules."""
    for column in table.columns:
        value = row[column.name]
        checks = COLUMN_CHECKS.get((table.name, column.name), ())
        if value is None:
            # Missing: fine where optional and no check looks at missing values.
            if column.required or not all(check.ignore_na for check in checks):
                return False
            continue
        if type(value) is not _EXACT_TYPES[column.kind]:
            return False
        if column.kind == "date" and not _DATE_RANGE[0] < value < _DATE_RANGE[1]:
            return False
        if isinstance(value, float) and not math.isfinite(value):
            return False
        if not all(_passes(check, value) for check in checks):
            return False
    for rule in ROW_RULES.get(table.name, ()):
        later, earlier = row[rule.column], row[rule.other]
        if later is not None and earlier is not None and later < earlier:
            return False
    return True


def _passes(check: pa.Check, value: Any) -> bool:
    """One present value against a built-in pandera check; False for any check it does not
    know. ``fullmatch`` is stricter than the schema's ``str.match``, whose ``$`` also matches
    before a final newline: such a value is left to the frame path, which accepts it."""
    statistics = check.statistics or {}
    if check.name == "greater_than":
        return bool(value > statistics["min_value"])
    if check.name == "greater_than_or_equal_to":
        return bool(value >= statistics["min_value"])
    if check.name == "str_matches":
        return isinstance(value, str) and re.fullmatch(statistics["pattern"], value) is not None
    if check.name == "isin":
        return value in statistics["allowed_values"]
    return False
