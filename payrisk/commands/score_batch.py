"""`payrisk score-batch`: score every open invoice at a date and write partitioned Parquet.

The nightly refresh of a large ledger: ``--engine dask`` scores per partition of
customers on a cluster; ``--engine pandas`` in this process. Heavy imports happen inside.
"""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from ledger.errors import PayriskError
from payrisk.commands._common import console, load_settings, user_errors
from payrisk.commands._engine import (
    DatasetOpt,
    EngineOpt,
    SchedulerOpt,
    check_engine,
    dataset_url,
)
from payrisk.commands._ledger_input import DEFAULT_MODEL_URI, LedgerOpt

if TYPE_CHECKING:
    from payrisk.settings import Settings
    from training.engines.scoring import ScoreStamp


class ScoreBatchError(PayriskError):
    """A score-batch request that cannot run as given."""


def _stamp(settings: Settings, model_uri: str, as_of: datetime) -> ScoreStamp:
    """Resolve the model URI to one registered version, load it once (fails early)."""
    import pandas as pd

    from models.registry import resolve_model_uri
    from payrisk.commands._ledger_input import prepare_stores
    from training.engines.scoring import ScoreStamp, cached_model

    version = resolve_model_uri(prepare_stores(settings), model_uri)
    pinned = model_uri if version is None else f"models:/{version.name}/{version.version}"
    cached_model(pinned, settings.resolved_tracking_uri)
    return ScoreStamp(
        model_name=model_uri if version is None else version.name,
        model_version="" if version is None else str(version.version),
        model_uri=pinned,
        tracking_uri=settings.resolved_tracking_uri,
        as_of=pd.Timestamp(as_of).normalize(),
        scored_at=pd.Timestamp.now(tz="UTC").tz_localize(None).floor("s"),
    )


def score_batch_command(
    as_of: Annotated[
        datetime, typer.Option("--as-of", formats=["%Y-%m-%d"], help="Score as of this day.")
    ],
    out: Annotated[Path, typer.Option("--out", file_okay=False, help="Output folder.")],
    engine: EngineOpt = "pandas",
    model_uri: Annotated[
        str, typer.Option("--model-uri", help="An MLflow model URI.")
    ] = DEFAULT_MODEL_URI,
    dataset: DatasetOpt = None,
    ledger_dir: LedgerOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Score every invoice open at --as-of; write Parquet parts with the model version."""
    settings = load_settings()
    with user_errors():
        check_engine(engine, scheduler)
        if out.exists() and any(out.iterdir()):
            raise ScoreBatchError(f"--out {out}: the folder is not empty; choose a new one")
        url = dataset_url(dataset, ledger_dir) if engine == "dask" else None
        stamp = _stamp(settings, model_uri, as_of)
        if url is not None:
            from training.engines.cluster import dask_client
            from training.engines.dask_scoring import score_dask

            with dask_client(settings, scheduler) as client:
                rows = score_dask(url, stamp, out, client)
        else:
            rows = _score_in_process(settings, stamp, out, dataset, ledger_dir)
    console.print(
        f"scored {rows} open invoice(s) as of {stamp.as_of:%Y-%m-%d} with {stamp.model_name} "
        f"v{stamp.model_version or '-'} ({engine}) -> {out}",
        highlight=False,
        soft_wrap=True,
    )


def _score_in_process(
    settings: Settings, stamp: ScoreStamp, out: Path, dataset: str | None, ledger_dir: Path | None
) -> int:
    from payrisk.commands._ledger_input import load_ledger
    from training.engines.pandas import read_dataset, score_pandas

    if dataset is not None:
        ledger, _ = read_dataset(dataset)
    else:
        ledger, _ = load_ledger(settings, ledger_dir, None)
    return score_pandas(ledger, stamp, out)


def register(app: typer.Typer) -> None:
    """Add ``payrisk score-batch`` to the root app."""
    app.command("score-batch")(score_batch_command)
