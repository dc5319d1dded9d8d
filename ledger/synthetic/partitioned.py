"""Write a generated ledger as a partitioned Parquet dataset, one partition per chunk.

Layout: ``DIR/<table>/part-00000.parquet`` for each contract table and
``DIR/truth/oracle/part-00000.parquet`` for the oracle. Partition k of every table holds
exactly the customers of generator chunk k (whole customers across all four tables), the
natural partitioning for the Dask engine (``training.engines.dask``). Every partition file
exists in every table, empty if the chunk has no rows there, so partitions stay aligned.
"""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from ledger.contract import TABLES
from ledger.synthetic.config import GeneratedLedger
from ledger.synthetic.writer import ORACLE_NAME, TRUTH_DIR

PART_NAME = "part-{index:05d}.parquet"


def partition_dirs(out_dir: Path) -> dict[str, Path]:
    """table name (and ``oracle``) -> the folder of its partition files under ``out_dir``."""
    folders = {name: out_dir / name for name in TABLES}
    folders[ORACLE_NAME] = out_dir / TRUTH_DIR / ORACLE_NAME
    return folders


def write_partitioned(chunks: Iterable[GeneratedLedger], out_dir: Path) -> dict[str, int]:
    """Stream chunks to a partitioned Parquet dataset under ``out_dir``; returns row counts.

    Holds one chunk in memory at a time. Refuses a folder that already has partition
    files, so partitions of two runs never mix.
    """
    folders = partition_dirs(out_dir)
    for folder in folders.values():
        if folder.exists() and any(folder.glob("part-*.parquet")):
            from ledger.synthetic.writer import GeneratedFilesError

            raise GeneratedFilesError(
                f"{folder} already holds partition files; write to an empty folder"
            )
        folder.mkdir(parents=True, exist_ok=True)
    counts = dict.fromkeys(folders, 0)
    for index, chunk in enumerate(chunks):
        frames: dict[str, pd.DataFrame] = {**chunk.ledger.tables(), ORACLE_NAME: chunk.oracle}
        for name, frame in frames.items():
            frame.to_parquet(folders[name] / PART_NAME.format(index=index), index=False)
            counts[name] += len(frame)
    return counts
