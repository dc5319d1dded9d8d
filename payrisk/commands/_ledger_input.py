"""What the model commands read: the ledger (a folder or the database), the oracle, MLflow.

Shared by ``train``, ``promote``, ``evaluate``, ``retrain``, ``score-batch``, ``monitor``,
``model-card`` and ``ledger stats``. A ledger folder with rejected values, a missing
database or oracle folder is a ``LedgerInputError`` that says what to run instead; heavy
imports happen inside the functions, so ``payrisk --help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from ledger.errors import PayriskError

if TYPE_CHECKING:
    import pandas as pd

    from ledger.frames import Ledger
    from payrisk.settings import Settings

DEFAULT_MODEL_URI = "models:/payment-risk@champion"

LedgerOpt = Annotated[
    Path | None,
    typer.Option(
        "--ledger",
        help="Read the ledger from this folder (CSV/Parquet) instead of the database.",
        file_okay=False,
    ),
]
OracleOpt = Annotated[
    Path | None,
    typer.Option(
        "--oracle-dir",
        help="Folder with a generated ledger's oracle (default: LEDGER/truth if present).",
        file_okay=False,
    ),
]


class LedgerInputError(PayriskError):
    """The ledger to train or evaluate on cannot be read as it is."""


def read_ledger_source(settings: Settings, ledger_dir: Path | None) -> tuple[Ledger, str]:
    """The ledger of a folder, else of the configured database, and where it came from."""
    from ledger.importer import LedgerSources, read_ledger
    from ledger.store import LedgerStore

    if ledger_dir is not None:
        if not ledger_dir.is_dir():
            raise LedgerInputError(f"--ledger {ledger_dir}: no such folder")
        loaded = read_ledger(LedgerSources(directory=ledger_dir))
        if not loaded.report.ok:
            raise LedgerInputError(
                f"--ledger {ledger_dir}: {len(loaded.report.rejections)} value(s) rejected; "
                f"run `payrisk ledger validate {ledger_dir}` for the report"
            )
        return loaded.ledger, str(ledger_dir)
    database_file = settings.data_dir / "payrisk.db"
    if settings.database_url is None and not database_file.exists():
        raise LedgerInputError(
            f"no ledger database at {database_file}: import a ledger first "
            "(`payrisk ledger import DIR`) or pass --ledger DIR"
        )
    with LedgerStore.from_url(settings.resolved_database_url) as store:
        return store.load(), store.display_url


def load_ledger(
    settings: Settings, ledger_dir: Path | None, oracle_dir: Path | None
) -> tuple[Ledger, pd.DataFrame | None]:
    """The ledger (folder, else the configured database) and the oracle if there is one
    (``--oracle-dir``, else a generated ledger folder's ``truth``)."""
    from ledger.synthetic import read_oracle

    ledger, _ = read_ledger_source(settings, ledger_dir)
    if oracle_dir is None and ledger_dir is not None and (ledger_dir / "truth").is_dir():
        oracle_dir = ledger_dir / "truth"
    if oracle_dir is not None and not oracle_dir.is_dir():
        raise LedgerInputError(f"--oracle-dir {oracle_dir}: no such folder")
    return ledger, read_oracle(oracle_dir) if oracle_dir is not None else None


def prepare_stores(settings: Settings) -> Any:
    """The checked MLflow client; the embedded store's folder is created on demand."""
    from models.registry import open_registry

    if settings.mlflow_tracking_uri is None:
        settings.ensure_data_dir()
    return open_registry(settings.resolved_tracking_uri)
