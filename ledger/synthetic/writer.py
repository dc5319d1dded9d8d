"""Write a generated ledger to a folder (CSV or Parquet), chunk by chunk, and read it back.

Layout: ``DIR/customers.csv``, ``invoices.csv``, ``payments.csv``, ``activities.csv`` in
the contract's columns, and the oracle in ``DIR/truth/oracle.csv`` -- a sub-folder the
importer never reads as ledger data. Same chunks in, same bytes out.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Literal

import pandas as pd

from ledger.contract import TABLES
from ledger.errors import PayriskError
from ledger.frames import Ledger
from ledger.synthetic.config import GeneratedLedger

LedgerFormat = Literal["csv", "parquet"]
FORMATS: tuple[LedgerFormat, ...] = ("csv", "parquet")
TRUTH_DIR = "truth"
ORACLE_NAME = "oracle"
_DATE_FORMAT = "%Y-%m-%d"


class GeneratedFilesError(PayriskError):
    """A generated-ledger folder that is missing a file or has an unknown format."""


def write_generated(
    chunks: GeneratedLedger | Iterable[GeneratedLedger],
    out_dir: Path,
    fmt: LedgerFormat = "csv",
    *,
    ledger_files: bool = True,
) -> dict[str, int]:
    """Write one generated ledger, or a stream of chunks, to ``out_dir``; returns row counts.

    Chunks are appended as they come (CSV rows, Parquet row groups), so a stream is never
    held in memory at once. ``ledger_files=False`` writes only the oracle (the ledger
    went to a database instead).
    """
    if fmt not in FORMATS:
        raise GeneratedFilesError(f"unknown format {fmt!r}; use one of {', '.join(FORMATS)}")
    stream = [chunks] if isinstance(chunks, GeneratedLedger) else chunks
    out_dir.mkdir(parents=True, exist_ok=True)
    (out_dir / TRUTH_DIR).mkdir(exist_ok=True)
    paths = {name: out_dir / f"{name}.{fmt}" for name in TABLES} if ledger_files else {}
    paths[ORACLE_NAME] = out_dir / TRUTH_DIR / f"{ORACLE_NAME}.{fmt}"
    sink = _CsvSink(paths) if fmt == "csv" else _ParquetSink(paths)
    counts = dict.fromkeys(paths, 0)
    try:
        for chunk in stream:
            frames = {**chunk.ledger.tables(), ORACLE_NAME: chunk.oracle}
            for name, frame in frames.items():
                if name not in paths:
                    continue
                sink.write(name, frame)
                counts[name] += len(frame)
    finally:
        sink.close()
    return counts


def read_oracle(directory: Path) -> pd.DataFrame:
    """The oracle written beside a generated ledger (``directory`` or its ``truth/``)."""
    truth = directory if directory.name == TRUTH_DIR else directory / TRUTH_DIR
    frame = _read_table(truth, ORACLE_NAME)
    for column in ("issue_date", "dispute_opened_date"):
        frame[column] = pd.to_datetime(frame[column]).astype("datetime64[ns]")
    for column in ("invoice_id", "customer_id"):
        frame[column] = frame[column].astype("string")
    if frame["in_stress"].dtype != bool:  # CSV text
        frame["in_stress"] = frame["in_stress"].map({"True": True, "False": False}).astype(bool)
    return frame


def read_generated_ledger(directory: Path) -> Ledger:
    """Read back a folder this module wrote (contract columns, ISO dates); no mapping.

    For files from elsewhere use the importer, which maps columns and reports bad rows.
    """
    frames = {name: _read_table(directory, name) for name in TABLES}
    return Ledger.from_frames(**frames)


def _read_table(directory: Path, name: str) -> pd.DataFrame:
    for fmt in FORMATS:
        path = directory / f"{name}.{fmt}"
        if path.exists():
            if fmt == "parquet":
                return pd.read_parquet(path)
            return pd.read_csv(path, dtype=str, keep_default_na=False, na_values=[""]).pipe(
                _parse_csv_columns, name
            )
    raise GeneratedFilesError(f"{directory}: no {name}.csv or {name}.parquet")


def _parse_csv_columns(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    table = TABLES.get(name)
    if table is None:  # the oracle: numbers stay numbers
        numeric = [
            c for c in frame.columns if c.startswith(("p_", "delay_", "discipline", "stress"))
        ]
        return frame.assign(**{c: frame[c].astype(float) for c in numeric})
    parsed = {}
    for column in table.columns:
        if column.name not in frame.columns:
            continue
        values = frame[column.name]
        if column.kind == "amount":
            parsed[column.name] = values.astype(float)
        elif column.kind == "flag":
            parsed[column.name] = values.map({"True": True, "False": False}).astype("boolean")
        elif column.kind == "date":
            parsed[column.name] = pd.to_datetime(values, format=_DATE_FORMAT)
    return frame.assign(**parsed)


class _CsvSink:
    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = paths
        self._started: set[str] = set()

    def write(self, name: str, frame: pd.DataFrame) -> None:
        first = name not in self._started
        self._started.add(name)
        frame.to_csv(
            self._paths[name],
            mode="w" if first else "a",
            header=first,
            index=False,
            date_format=_DATE_FORMAT,
            float_format=None if name == ORACLE_NAME else "%.2f",
            lineterminator="\n",
        )

    def close(self) -> None:
        return None


class _ParquetSink:
    def __init__(self, paths: dict[str, Path]) -> None:
        self._paths = paths
        self._writers: dict[str, object] = {}

    def write(self, name: str, frame: pd.DataFrame) -> None:
        import pyarrow as pa
        import pyarrow.parquet as pq

        table = pa.Table.from_pandas(frame, preserve_index=False)
        writer = self._writers.get(name)
        if writer is None:
            writer = pq.ParquetWriter(self._paths[name], table.schema)
            self._writers[name] = writer
        writer.write_table(table)  # type: ignore[attr-defined]

    def close(self) -> None:
        for writer in self._writers.values():
            writer.close()  # type: ignore[attr-defined]
