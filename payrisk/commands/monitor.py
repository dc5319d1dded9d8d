"""`payrisk monitor`: drift of the served scores and realized performance, as a report."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich import box
from rich.table import Table

from ledger.errors import PayriskError
from payrisk.commands._common import console, load_settings, user_errors
from payrisk.commands._ledger_input import DEFAULT_MODEL_URI

if TYPE_CHECKING:
    from training.monitoring.run import MonitorOutcome

STATUS_STYLE = {"ok": "green", "warn": "yellow", "alert": "bold red", "unknown": "dim"}


class MonitorInputError(PayriskError):
    """Monitoring cannot run as asked (e.g. no ledger database)."""


def monitor_command(
    since: Annotated[
        datetime | None,
        typer.Option(
            "--since",
            formats=["%Y-%m-%d"],
            help="Recent scores: as-of dates from this day (default: the newest as-of date "
            "minus PAYRISK_MONITOR_WINDOW_DAYS).",
        ),
    ] = None,
    model_uri: Annotated[
        str, typer.Option("--model-uri", help="The model whose reference profile to compare.")
    ] = DEFAULT_MODEL_URI,
    out: Annotated[
        Path | None,
        typer.Option("--out", dir_okay=False, help="HTML report (default: DATA_DIR/monitor.html)."),
    ] = None,
) -> None:
    """Compare recent served scores with the model's training profile (PSI, ok/warn/alert)
    and report realized performance by scoring month; write an HTML report, log it to MLflow.

    Exits 0 with a notice when there is nothing to compare yet (no scores, no outcomes).
    """
    import pandas as pd

    from ledger.store import LedgerStore
    from training.monitoring.run import run_monitoring

    settings = load_settings()
    with user_errors():
        database_file = settings.data_dir / "payrisk.db"
        if settings.database_url is None and not database_file.exists():
            raise MonitorInputError(
                f"no ledger database at {database_file}: import a ledger and serve scores first"
            )
        if settings.mlflow_tracking_uri is None:
            settings.ensure_data_dir()
        report_path = out if out is not None else settings.data_dir / "monitor.html"
        with LedgerStore.from_url(settings.resolved_database_url) as store:
            outcome = run_monitoring(
                settings,
                store,
                model_uri=model_uri,
                since=None if since is None else pd.Timestamp(since),
                out=report_path,
            )
    _print(outcome)


def _print(outcome: MonitorOutcome) -> None:
    """Status, notices, the scores' and top features' PSI, realized figures, where it went."""
    import pandas as pd

    report = outcome.report
    style = STATUS_STYLE[report.status]
    console.print(f"status: [{style}]{report.status}[/]", highlight=False)
    for notice in report.notices:
        console.print(f"notice: {notice}", highlight=False, soft_wrap=True)
    if not report.drift.empty:
        table = Table(title="PSI (recent vs reference)", box=box.SIMPLE_HEAD, title_justify="left")
        for column in ("column", "kind", "psi", "status"):
            table.add_column(column, justify="right" if column == "psi" else "left")
        scores = report.drift.loc[report.drift["kind"] == "score"]
        shown = pd.concat([scores, report.top_drifted()])
        for row in shown.itertuples(index=False):
            table.add_row(row.column, row.kind, f"{row.psi:.3f}", str(row.status))
        console.print(table)
    if not report.realized.empty:
        overall = report.realized.iloc[-1]
        console.print(
            f"realized (all months): ROC AUC late {overall['roc_auc_late']:.3f}, "
            f"Brier late {overall['brier_late']:.3f}, capture@10 model "
            f"{overall['capture_at_10_model']:.3f} vs aging {overall['capture_at_10_aging']:.3f}",
            highlight=False,
        )
    run = f"; MLflow run {outcome.run_id}" if outcome.run_id else ""
    console.print(f"report: {outcome.html_path}{run}", highlight=False, soft_wrap=True)


def register(app: typer.Typer) -> None:
    """Add ``payrisk monitor`` to the root app."""
    app.command("monitor")(monitor_command)
