"""The in-memory ledger: four DataFrames with the contract's columns and dtypes.

Canonical dtypes: ids and text are pandas ``string``; dates are ``datetime64[ns]``
normalized to midnight, no time zone; amounts are ``float64``; flags are nullable
``boolean``. Every frame that leaves ``ledger/`` is in this shape, so ``features/``
and ``models/`` never have to guess.
"""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np
import pandas as pd

from ledger.contract import TABLES, Column, Table

_DTYPES = {
    "id": "string",
    "text": "string",
    "date": "datetime64[ns]",
    "amount": "float64",
    "flag": "boolean",
}


def dtype_of(column: Column) -> str:
    """The canonical pandas dtype of a contract column."""
    return _DTYPES[column.kind]


_NANOSECONDS_PER_DAY = 86_400 * 10**9
_EMPTY_FRAMES: dict[str, pd.DataFrame] = {}


def empty_frame(table: Table) -> pd.DataFrame:
    """An empty frame with the table's columns and canonical dtypes."""
    # Built once per table: every single-row ingest needs three of them, and under
    # copy-on-write the shallow copy handed out cannot change the cached one.
    if table.name not in _EMPTY_FRAMES:
        _EMPTY_FRAMES[table.name] = pd.DataFrame(
            {column.name: pd.Series(dtype=dtype_of(column)) for column in table.columns}
        )
    return _EMPTY_FRAMES[table.name].copy(deep=False)


def is_canonical(table: Table, frame: pd.DataFrame) -> bool:
    """Whether ``frame`` already is what ``conform`` would return (columns, dtypes, dates).

    Dates count only when normalized to midnight; the index must be 0..n-1.
    """
    if list(frame.columns) != list(table.column_names):
        return False
    if not frame.index.equals(pd.RangeIndex(len(frame))):
        return False
    if list(frame.dtypes) != _canonical_dtypes(table):
        return False
    for column in table.columns:
        if column.kind == "date":
            nanoseconds = frame[column.name].to_numpy().view(np.int64)
            midnight_or_missing = nanoseconds % _NANOSECONDS_PER_DAY == 0
            midnight_or_missing |= nanoseconds == np.iinfo(np.int64).min  # NaT
            if not midnight_or_missing.all():
                return False
    return True


_CANONICAL_DTYPES: dict[str, list[object]] = {}


def _canonical_dtypes(table: Table) -> list[object]:
    if table.name not in _CANONICAL_DTYPES:
        dtypes = [pd.api.types.pandas_dtype(dtype_of(column)) for column in table.columns]
        _CANONICAL_DTYPES[table.name] = dtypes
    return _CANONICAL_DTYPES[table.name]


def conform(table: Table, frame: pd.DataFrame) -> pd.DataFrame:
    """Return a copy of ``frame`` with the table's columns, in order, in canonical dtypes.

    Optional columns that are absent are added as all-missing. Extra columns are
    dropped. Values must already be parsed (this is no parser: ``ledger.importer``
    parses and reports bad values); a value that cannot be cast raises.
    """
    if is_canonical(table, frame):
        # Copy-on-write: the shallow copy is a copy for every caller, without the casts.
        return frame.copy(deep=False)
    missing_required = [name for name in table.required_names if name not in frame.columns]
    if missing_required:
        raise KeyError(f"{table.name}: missing required columns {missing_required}")
    out = {}
    for column in table.columns:
        dtype = dtype_of(column)
        if column.name not in frame.columns:
            out[column.name] = pd.Series(index=frame.index, dtype=dtype)
            continue
        values = frame[column.name]
        if column.kind == "date":
            values = pd.to_datetime(values).dt.tz_localize(None).dt.normalize()
        out[column.name] = values.astype(dtype)
    return pd.DataFrame(out, index=frame.index).reset_index(drop=True)


@dataclass(frozen=True)
class Ledger:
    """A whole ledger. Frames are never modified in place; derive a new Ledger instead."""

    customers: pd.DataFrame
    invoices: pd.DataFrame
    payments: pd.DataFrame
    activities: pd.DataFrame

    @classmethod
    def from_frames(cls, **frames: pd.DataFrame) -> Ledger:
        """Build a Ledger from any subset of tables; absent tables are empty."""
        unknown = set(frames) - set(TABLES)
        if unknown:
            raise KeyError(f"unknown ledger tables: {sorted(unknown)}")
        conformed = {
            name: conform(table, frames[name]) if name in frames else empty_frame(table)
            for name, table in TABLES.items()
        }
        return cls(**conformed)

    def table(self, name: str) -> pd.DataFrame:
        if name not in TABLES:
            raise KeyError(f"unknown ledger table {name!r}")
        frame: pd.DataFrame = getattr(self, name)
        return frame

    def tables(self) -> dict[str, pd.DataFrame]:
        return {field.name: getattr(self, field.name) for field in fields(self)}
