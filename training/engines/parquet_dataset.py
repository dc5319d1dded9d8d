"""A ledger stored as a partitioned Parquet dataset (any fsspec URL), read as Dask frames.

Layout (what ``payrisk generate --format parquet --partitioned`` writes):
``ROOT/<table>/part-*.parquet`` (or a single ``ROOT/<table>.parquet``) per contract table,
optionally ``ROOT/truth/oracle/part-*.parquet``. customers and invoices are required.
The files' schemas are checked against the contract before anything runs; a file that
differs gets the file import's validation report (``ledger.importer.read_ledger``).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import pyarrow as pa

from ledger.contract import TABLES, Column, Table
from ledger.errors import PayriskError
from ledger.frames import conform, empty_frame
from ledger.validation import ValidationReport

if TYPE_CHECKING:
    import dask.dataframe as dd

REQUIRED_TABLES = ("customers", "invoices")
ORACLE_PARTS = "truth/oracle"


class DatasetError(PayriskError):
    """A ledger dataset that cannot be read: missing folder or table, unreadable file."""


class DatasetRejected(PayriskError):
    """A dataset file whose schema differs from the contract: the import's report says how."""

    def __init__(self, message: str, report: ValidationReport | None = None) -> None:
        super().__init__(message)
        self.report = report

    def __reduce__(self) -> tuple[Any, ...]:
        # Raised inside Dask workers too: pickle with both arguments.
        return (type(self), (str(self), self.report))


@dataclass(frozen=True)
class LedgerDataset:
    """Where each table's partition files are (paths on ``fs``), and the oracle's if any."""

    url: str
    fs: Any  # an fsspec filesystem
    files: dict[str, list[str]]  # table -> its files, sorted; [] for an absent optional table
    oracle_files: list[str]

    @property
    def aligned(self) -> bool:
        """Whether partition k of every present table comes from files of the same name."""
        names = [[Path(f).name for f in files] for files in self.files.values() if files]
        return all(listed == names[0] for listed in names)

    @property
    def npartitions(self) -> int:
        return max(len(files) for files in self.files.values())


def _table_files(fs: Any, root: str, name: str) -> list[str]:
    folder, single = f"{root}/{name}", f"{root}/{name}.parquet"
    if fs.isdir(folder):
        return sorted(fs.glob(f"{folder}/*.parquet"))
    return [single] if fs.isfile(single) else []


def open_dataset(url: str) -> LedgerDataset:
    """Find the dataset's files under ``url`` (a local folder or any fsspec URL)."""
    import fsspec

    fs, root = fsspec.core.url_to_fs(url)
    root = root.rstrip("/")
    if not fs.isdir(root):
        raise DatasetError(f"ledger dataset {url}: no such folder")
    files = {name: _table_files(fs, root, name) for name in TABLES}
    missing = [name for name in REQUIRED_TABLES if not files[name]]
    if missing:
        raise DatasetError(
            f"ledger dataset {url}: no parquet files for {', '.join(missing)} "
            f"(expected {root}/<table>/part-*.parquet or {root}/<table>.parquet)"
        )
    oracle = sorted(fs.glob(f"{root}/{ORACLE_PARTS}/*.parquet"))
    return LedgerDataset(url=url, fs=fs, files=files, oracle_files=oracle)


def _type_fits(column: Column, arrow_type: pa.DataType) -> bool:
    if pa.types.is_null(arrow_type):
        return not column.required
    if column.kind in ("id", "text"):
        return pa.types.is_string(arrow_type) or pa.types.is_large_string(arrow_type)
    if column.kind == "date":
        return pa.types.is_timestamp(arrow_type) or pa.types.is_date(arrow_type)
    if column.kind == "amount":
        return pa.types.is_floating(arrow_type) or pa.types.is_integer(arrow_type)
    return pa.types.is_boolean(arrow_type)


def schema_problems(table: Table, schema: pa.Schema) -> list[str]:
    """How an arrow schema differs from the contract table (extra columns are fine)."""
    problems = []
    for column in table.columns:
        if column.name not in schema.names:
            if column.required:
                problems.append(f"missing required column {column.name!r}")
            continue
        arrow_type = schema.field(column.name).type
        if not _type_fits(column, arrow_type):
            kind = column.kind
            problems.append(f"column {column.name!r} is {arrow_type}, the contract has {kind}")
    return problems


def check_schemas(dataset: LedgerDataset) -> None:
    """Raise ``DatasetRejected`` (with the import's report when local) at the first bad file."""
    import pyarrow.parquet as pq

    for name, files in dataset.files.items():
        for path in files:
            with dataset.fs.open(path, "rb") as handle:
                problems = schema_problems(TABLES[name], pq.read_schema(handle))
            if problems:
                _reject(dataset, name, path, problems)


def _reject(dataset: LedgerDataset, name: str, path: str, problems: list[str]) -> None:
    """Raise for a bad file: the file import's own error or report if the file is local."""
    message = f"{path}: schema differs from the contract: {'; '.join(problems)}"
    if "file" not in dataset.fs.protocol:
        raise DatasetRejected(message)
    from ledger.importer import LedgerSources, read_ledger

    # The importer raises itself for a whole-file problem (e.g. a missing column).
    loaded = read_ledger(LedgerSources(files={name: Path(path)}))
    raise DatasetRejected(
        f"{message}; {len(loaded.report.rejections)} value(s) rejected", loaded.report
    )


def read_part(path: str, *, fs: Any, table: str) -> pd.DataFrame:
    """One partition file as a frame with the contract's columns and canonical dtypes."""
    with fs.open(path, "rb") as handle:
        frame = pd.read_parquet(handle)
    return conform(TABLES[table], frame) if table in TABLES else _conform_oracle(frame)


def _conform_oracle(frame: pd.DataFrame) -> pd.DataFrame:
    ids = {column: frame[column].astype("string") for column in ("invoice_id", "customer_id")}
    return frame.assign(**ids).reset_index(drop=True)


def _empty_part(_: int, *, table: str) -> pd.DataFrame:
    return empty_frame(TABLES[table])


def table_frames(dataset: LedgerDataset) -> dict[str, dd.DataFrame]:
    """A Dask frame per contract table (one partition per file), plus ``oracle`` if present.

    An absent optional table becomes empty partitions, as many as the others have.
    """
    import dask.dataframe as dd

    frames: dict[str, dd.DataFrame] = {}
    for name, files in dataset.files.items():
        meta = empty_frame(TABLES[name])
        if files:
            frames[name] = dd.from_map(
                read_part, files, fs=dataset.fs, table=name, meta=meta, enforce_metadata=False
            )
        else:
            frames[name] = dd.from_map(
                _empty_part, range(dataset.npartitions), table=name, meta=meta
            )
    if dataset.oracle_files:
        sample = read_part(dataset.oracle_files[0], fs=dataset.fs, table="oracle").head(0)
        frames["oracle"] = dd.from_map(
            read_part, dataset.oracle_files, fs=dataset.fs, table="oracle", meta=sample
        )
    return frames
