"""Ledger ingest for the API: request rows -> canonical frames -> the import's rules -> upsert.

The same ``ledger.validation.validate_ledger`` as the file import, with the ids already
stored as ``known_ids`` (looked up by key, not loaded whole). References must resolve to
the request's own rows or stored ones: unlike an invoices-only file, an API request never
creates customers implicitly. Any rejection rejects the whole request and nothing is
written; otherwise one ``LedgerStore.upsert`` writes every table in one transaction.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ledger.contract import TABLES
from ledger.errors import PayriskError
from ledger.frames import Ledger, conform, empty_frame
from ledger.rules import REFERENCES
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
    """Validate and upsert request rows (table -> rows) in one transaction; rows per table."""
    frames = {name: records_frame(name, rows) for name, rows in records.items()}
    complete = check_rows(store, frames)
    counts = store.upsert(Ledger.from_frames(**complete))
    return {name: counts.get(name, 0) for name in TABLES}
