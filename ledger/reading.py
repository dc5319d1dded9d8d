"""Reading ledger files: CSV or Parquet, one file per table or a folder of them.

Only ``customers``, ``invoices``, ``payments`` and ``activities`` (``.csv`` or
``.parquet``) are ledger data; any other file in a folder (such as the generator's
oracle file) is never read. CSV values come back as stripped strings with missing
values as ``<NA>``: parsing them is ``ledger.mapping``'s job, so a bad value can be
reported with its line instead of being coerced.

Line numbers are 1-based lines of the source file with the header on line 1, so the
first data row is line 2 (a quoted value spanning lines moves the next rows down).
For Parquet, which has no lines, row n (1-based) is reported as line n + 1, the line
it would have in the same data written as CSV.
"""

from __future__ import annotations

import codecs
import csv
import io
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from ledger.contract import INVOICES, TABLE_NAMES
from ledger.errors import PayriskError

SUFFIXES = (".csv", ".parquet")
ENCODING_HINT = "pass the file's encoding with --encoding (e.g. --encoding cp1255 or latin-1)"
_SNIFF_BYTES = 8192
_BINARY_SIGNATURES = {
    b"PK\x03\x04": "a ZIP archive or an Excel .xlsx workbook; save it as CSV",
    b"\xd0\xcf\x11\xe0": "an Excel .xls workbook; save it as CSV",
    b"PAR1": "a Parquet file; name it *.parquet",
}


class LedgerFileError(PayriskError):
    """A ledger file cannot be read at all (missing, empty, malformed, wrong encoding)."""


@dataclass(frozen=True)
class RawTable:
    """One table as read from its file, before any mapping or parsing."""

    table: str
    path: Path
    frame: pd.DataFrame
    lines: pd.Series
    skipped_blank_lines: int = 0

    @property
    def file(self) -> str:
        return self.path.name


def find_sources(
    directory: Path | None, files: Mapping[str, Path | None] | None = None
) -> dict[str, Path]:
    """The file of each ledger table: ``files`` first, then ``<table>.csv|parquet`` in a folder.

    ``directory`` may also be one file: a table's file if named after it, else the
    invoices file (a typical ERP export). Tables with no file are absent from the result.
    Raises ``LedgerFileError`` when nothing is found, a folder holds both a CSV and a
    Parquet file for one table, or a given file does not exist.
    """
    explicit = {table: Path(path) for table, path in (files or {}).items() if path is not None}
    unknown = sorted(set(explicit) - set(TABLE_NAMES))
    if unknown:
        raise LedgerFileError(f"unknown ledger tables {unknown}; tables are {list(TABLE_NAMES)}")
    sources: dict[str, Path] = {}
    if directory is not None and directory.is_file():
        sources = {single_file_table(directory): directory}
    elif directory is not None:
        sources = _folder_sources(directory)
    sources.update(explicit)
    for table, path in sources.items():
        if not path.is_file():
            raise LedgerFileError(f"{path}: no such file (given for the {table} table)")
    if not sources:
        expected = ", ".join(f"{table}.csv|parquet" for table in TABLE_NAMES)
        where = f"in {directory}" if directory is not None else "(no folder and no file given)"
        raise LedgerFileError(f"no ledger files {where}: expected one or more of {expected}")
    return {table: sources[table] for table in TABLE_NAMES if table in sources}


def single_file_table(path: Path) -> str:
    """The table a lone file holds: the one it is named after, else invoices."""
    return path.stem if path.stem in TABLE_NAMES else INVOICES.name


def _folder_sources(directory: Path) -> dict[str, Path]:
    if not directory.is_dir():
        raise LedgerFileError(f"{directory}: no such folder or file")
    sources = {}
    for table in TABLE_NAMES:
        found = [directory / f"{table}{suffix}" for suffix in SUFFIXES]
        found = [path for path in found if path.is_file()]
        if len(found) > 1:
            names = " and ".join(path.name for path in found)
            raise LedgerFileError(f"{directory}: both {names}; keep one file per table")
        if found:
            sources[table] = found[0]
    return sources


def other_files(directory: Path) -> list[str]:
    """Names of files in ``directory`` that are not ledger tables (and so are never read)."""
    ledger_names = {f"{table}{suffix}" for table in TABLE_NAMES for suffix in SUFFIXES}
    return sorted(
        path.name
        for path in directory.iterdir()
        if path.is_file() and path.name not in ledger_names
    )


def read_table(
    table: str, path: Path, *, encoding: str = "utf-8", delimiter: str = ","
) -> RawTable:
    """Read one table's file (CSV or Parquet, chosen by its suffix) into a ``RawTable``."""
    suffix = path.suffix.lower()
    if suffix not in SUFFIXES:
        raise LedgerFileError(
            f"{path}: unsupported file type {path.suffix!r} for the {table} table; "
            f"use {' or '.join(SUFFIXES)}"
        )
    size_bytes = path.stat().st_size
    if size_bytes == 0:
        raise LedgerFileError(f"{path}: the file is empty (0 bytes), expected a header line")
    if suffix == ".parquet":
        return _read_parquet(table, path)
    return _read_csv(table, path, encoding, delimiter)


def _read_parquet(table: str, path: Path) -> RawTable:
    try:
        frame = pd.read_parquet(path)
    except Exception as error:  # pyarrow raises several types for a damaged file
        raise LedgerFileError(f"{path}: not a readable Parquet file ({error})") from error
    if frame.empty:
        raise LedgerFileError(f"{path}: the Parquet file has columns but no rows")
    frame = frame.reset_index(drop=True)
    lines = pd.Series(np.arange(2, len(frame) + 2), index=frame.index, name="line")
    return RawTable(table=table, path=path, frame=frame, lines=lines)


def _read_csv(table: str, path: Path, encoding: str, delimiter: str) -> RawTable:
    text = decode_text(path, path.read_bytes(), encoding)
    rows = _csv_rows(path, text, delimiter)
    if not rows or not any(field.strip() for field in rows[0]):
        raise LedgerFileError(f"{path}: the file has no header line (only blank lines)")
    header = [name.strip() for name in rows[0]]
    _check_header(path, header)
    body = rows[1:]
    field_counts = np.fromiter(map(len, body), dtype=np.int64, count=len(body))
    lines = _record_lines(text, body)
    ragged = np.flatnonzero((field_counts != len(header)) & (field_counts != 0))
    if ragged.size:
        first = int(ragged[0])
        raise LedgerFileError(
            f"{path} line {lines[first]}: malformed CSV: expected {len(header)} fields as in "
            f"the header, found {field_counts[first]} ({ragged.size} such line(s) in all)"
        )
    frame = pd.DataFrame(list(filter(None, body)), columns=header, dtype="string")
    frame = frame.apply(lambda values: values.str.strip()).replace("", pd.NA)
    kept_lines = lines[field_counts != 0]
    blank = frame.isna().all(axis=1).to_numpy()
    frame = frame.loc[~blank].reset_index(drop=True)
    if frame.empty:
        raise LedgerFileError(f"{path}: the file has a header line but no data rows")
    line_series = pd.Series(kept_lines[~blank], index=frame.index, name="line")
    skipped = int((field_counts == 0).sum() + blank.sum())
    return RawTable(table, path, frame, line_series, skipped_blank_lines=skipped)


def decode_text(path: Path, data: bytes, encoding: str) -> str:
    """``data`` decoded with ``encoding`` (a UTF-8 byte-order mark is dropped).

    Raises ``LedgerFileError`` naming the byte offset, the line and the --encoding option
    when the bytes are not valid in that encoding or the file is not text at all.
    """
    try:
        codec = codecs.lookup(encoding).name
    except LookupError as error:
        raise LedgerFileError(f"unknown encoding {encoding!r} given with --encoding") from error
    _refuse_binary(path, data[:_SNIFF_BYTES], codec)
    try:
        return data.decode("utf-8-sig" if codec == "utf-8" else codec)
    except UnicodeDecodeError as error:
        line = data[: error.start].count(b"\n") + 1
        bad = data[error.start : error.start + 4]
        raise LedgerFileError(
            f"{path} line {line}: the file is not valid {encoding} text (byte {error.start}, "
            f"{bad!r}); {ENCODING_HINT}"
        ) from error


def _refuse_binary(path: Path, head: bytes, codec: str) -> None:
    for signature, what in _BINARY_SIGNATURES.items():
        if head.startswith(signature):
            raise LedgerFileError(f"{path}: this is {what}, not a CSV text file")
    if head.startswith((b"\xff\xfe", b"\xfe\xff")) and not codec.startswith("utf-16"):
        raise LedgerFileError(f"{path}: the file is UTF-16 text; pass --encoding utf-16")
    if b"\x00" in head and not codec.startswith(("utf-16", "utf-32")):
        raise LedgerFileError(f"{path}: the file holds NUL bytes, so it is not CSV text")


def _csv_rows(path: Path, text: str, delimiter: str) -> list[list[str]]:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    try:
        return list(reader)
    except csv.Error as error:
        line = _failing_record_line(text, delimiter)
        raise LedgerFileError(f"{path} line {line}: malformed CSV: {error}") from error


def _failing_record_line(text: str, delimiter: str) -> int:
    """The line where the record that broke the CSV parser starts (error path only)."""
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True)
    start_line = 1
    try:
        for _ in reader:
            start_line = reader.line_num + 1
    except csv.Error:
        return start_line
    return start_line


def _record_lines(text: str, body: list[list[str]]) -> np.ndarray:
    """The source line where each record after the header starts (header = line 1)."""
    breaks: np.ndarray = np.zeros(len(body), dtype=np.int64)
    if text.count("\n") > len(body) + 1:
        # Some quoted value spans lines: count the line breaks inside each record.
        fields = pd.Series(body, dtype=object).explode().astype("string")
        counts = fields.str.count("\n").fillna(0).groupby(level=0).sum()
        breaks = counts.to_numpy(dtype=np.int64)
    starts = np.concatenate(([0], np.cumsum(1 + breaks)[:-1])) if len(body) else breaks
    return 2 + starts.astype(np.int64)


def _check_header(path: Path, header: list[str]) -> None:
    named = [name for name in header if name]
    duplicates = sorted({name for name in named if named.count(name) > 1})
    if duplicates:
        raise LedgerFileError(
            f"{path} line 1: column(s) {duplicates} appear more than once in the header"
        )
