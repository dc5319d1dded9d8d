"""Batch scoring on a Dask cluster: ``score_ledger`` per partition of whole customers."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from ledger.contract import TABLES
from ledger.frames import Ledger, empty_frame
from training.engines.dask import LEDGER_TABLES, load_dataset
from training.engines.scoring import ScoreStamp, score_ledger

if TYPE_CHECKING:
    from distributed import Client


def _score_partition(*tables: pd.DataFrame, stamp: ScoreStamp) -> pd.DataFrame:
    """Scores of one partition (its four tables, whole customers); model cached per worker."""
    ledger = Ledger.from_frames(**dict(zip(LEDGER_TABLES, tables[:4], strict=True)))
    return score_ledger(ledger, stamp)


def score_dask(url: str, stamp: ScoreStamp, out_dir: Path, client: Client) -> int:
    """Score every open invoice of the dataset at ``url``; write partitioned Parquet; rows."""
    import dask.dataframe as dd

    frames, _facts = load_dataset(url, client)
    options: dict[str, Any] = {"stamp": stamp}
    meta = _score_partition(*(empty_frame(TABLES[name]) for name in LEDGER_TABLES), **options)
    scores = dd.map_partitions(
        _score_partition,
        *(frames[name] for name in LEDGER_TABLES),
        meta=meta,
        align_dataframes=False,
        **options,
    )
    out_dir.mkdir(parents=True, exist_ok=True)
    written = scores.to_parquet(str(out_dir), write_index=False, compute=False)
    client.compute(written).result()
    return written_rows(out_dir)


def written_rows(out_dir: Path) -> int:
    """Rows in the Parquet files of ``out_dir``, from their footers (no data read)."""
    import pyarrow.parquet as pq

    return sum(pq.ParquetFile(path).metadata.num_rows for path in out_dir.glob("*.parquet"))
