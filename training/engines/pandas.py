"""The pandas engine: the whole ledger in this process (the existing path, unchanged).

It also reads a partitioned Parquet dataset whole (``read_dataset``), so both engines can
run on the same input, and writes batch scores as a partitioned Parquet dataset.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pandas as pd

from ledger.frames import Ledger
from ledger.validation import validate_ledger
from training.dataset import TrainingSettings
from training.engines.parquet_dataset import (
    DatasetRejected,
    check_schemas,
    open_dataset,
    read_part,
)
from training.engines.scoring import ScoreStamp, score_ledger

if TYPE_CHECKING:
    from training.result import TrainingResult

PART_ROWS = 1_000_000
SCORE_PART_NAME = "part-{index:05d}.parquet"


def read_dataset(url: str) -> tuple[Ledger, pd.DataFrame | None]:
    """A partitioned Parquet dataset read whole and validated; its oracle if it has one."""
    dataset = open_dataset(url)
    check_schemas(dataset)
    frames = {
        name: pd.concat([read_part(path, fs=dataset.fs, table=name) for path in files])
        for name, files in dataset.files.items()
        if files
    }
    report = validate_ledger(frames)
    if not report.ok:
        raise DatasetRejected(f"{url}: {len(report.rejections)} value(s) rejected", report)
    oracle = None
    if dataset.oracle_files:
        parts = [read_part(path, fs=dataset.fs, table="oracle") for path in dataset.oracle_files]
        oracle = pd.concat(parts, ignore_index=True)
    return Ledger.from_frames(**frames), oracle


def train_pandas(
    ledger: Ledger, settings: TrainingSettings, oracle: pd.DataFrame | None = None
) -> TrainingResult:
    """``training.pipeline.train`` as it is: features, fit and evaluation in this process."""
    from training.pipeline import train

    return train(ledger, settings, oracle=oracle)


def write_score_parts(frame: pd.DataFrame, out_dir: Path, part_rows: int = PART_ROWS) -> int:
    """Write scores as ``out_dir/part-NNNNN.parquet`` files of at most ``part_rows`` rows."""
    out_dir.mkdir(parents=True, exist_ok=True)
    starts = range(0, max(len(frame), 1), part_rows)
    for index, start in enumerate(starts):
        part = frame.iloc[start : start + part_rows]
        part.to_parquet(out_dir / SCORE_PART_NAME.format(index=index), index=False)
    return len(frame)


def score_pandas(ledger: Ledger, stamp: ScoreStamp, out_dir: Path) -> int:
    """Score every invoice open at ``stamp.as_of``; write the scores; return the row count."""
    return write_score_parts(score_ledger(ledger, stamp), out_dir)
