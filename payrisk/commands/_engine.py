"""Options and checks shared by the commands that run on an engine (pandas or dask)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from ledger.errors import PayriskError

ENGINE_NAMES = ("pandas", "dask")  # training.engines.ENGINES, without importing it here

EngineOpt = Annotated[str, typer.Option("--engine", help="pandas (this process) or dask.")]
DatasetOpt = Annotated[
    str | None,
    typer.Option(
        "--dataset",
        help="Partitioned Parquet ledger dataset: a folder or an fsspec URL (s3://...).",
    ),
]
SchedulerOpt = Annotated[
    str | None,
    typer.Option(
        "--scheduler",
        help="Dask scheduler address (tcp://host:8786); default: PAYRISK_DASK_SCHEDULER, "
        "else a LocalCluster on this machine.",
    ),
]


class EngineOptionError(PayriskError):
    """Engine options that do not fit together."""


def check_engine(engine: str, scheduler: str | None) -> None:
    """Refuse an unknown engine name, and a scheduler without the dask engine."""
    if engine not in ENGINE_NAMES:
        raise EngineOptionError(f"--engine {engine!r}: use one of {', '.join(ENGINE_NAMES)}")
    if scheduler is not None and engine != "dask":
        raise EngineOptionError("--scheduler needs --engine dask")


def dataset_url(dataset: str | None, ledger_dir: Path | None) -> str:
    """The dataset the dask engine reads: --dataset, else the --ledger folder."""
    if dataset is not None:
        return dataset
    if ledger_dir is not None:
        return str(ledger_dir)
    raise EngineOptionError(
        "--engine dask reads a partitioned Parquet dataset: pass --dataset URL "
        "(write one with `payrisk generate --format parquet --partitioned`)"
    )
