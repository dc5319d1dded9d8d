"""`payrisk retrain`: a challenger on a rolling window, the gate, the recorded decision.

Meant for a timer (docs/operations.md): a run on data it already decided does nothing,
and says so. ``--history`` lists every decision. Heavy imports happen inside.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Annotated

import typer
from rich.table import Table

from payrisk.commands._common import console, load_settings, user_errors
from payrisk.commands._ledger_input import LedgerOpt, OracleOpt, load_ledger, prepare_stores
from payrisk.commands.audit import audit_store, cli_audited

if TYPE_CHECKING:
    import pandas as pd

    from training.retrain import RetrainOutcome


def _cell(value: object) -> str:
    if isinstance(value, float):
        return "—" if math.isnan(value) else f"{value:.3f}"
    return "—" if value in ("", None) else str(value)


def print_history(history: pd.DataFrame) -> None:
    """The decision log as a table, newest first."""
    if history.empty:
        console.print("no retraining decisions recorded yet")
        return
    table = Table(title="Retraining decisions (newest first)", title_justify="left")
    headers = {
        "when": "when (UTC)",
        "window_months": "window\nmonths",
        "champion_before": "champion\nbefore",
        "challenger": "challenger",
        "champion_after": "champion\nafter",
        "challenger_roc_auc_late": "AUC\nchallenger",
        "champion_roc_auc_late": "AUC\nchampion",
        "challenger_brier_late": "Brier\nchallenger",
        "champion_brier_late": "Brier\nchampion",
        "decision": "decision",
        "reason": "reason",
    }
    for column in history.columns:
        table.add_column(headers.get(column, column), overflow="fold")
    for line in history.itertuples(index=False):
        table.add_row(*(_cell(value) for value in line))
    console.print(table)


def _print_outcome(outcome: RetrainOutcome) -> None:
    color = {"skipped": "cyan", "refused": "yellow"}.get(outcome.decision, "green")
    console.print(f"[{color}]{outcome.decision}[/]: {outcome.reason}", highlight=False)
    console.print(
        f"champion: v{outcome.champion_after or '-'} (was v{outcome.champion_before or '-'})",
        highlight=False,
    )


def retrain_command(
    window_months: Annotated[
        int | None,
        typer.Option(
            "--window-months",
            min=1,
            help="Train on this many months of as-of dates up to the data cutoff "
            "(default PAYRISK_RETRAIN_WINDOW_MONTHS).",
        ),
    ] = None,
    history: Annotated[
        bool, typer.Option("--history", help="List the recorded decisions and exit.")
    ] = False,
    ledger_dir: LedgerOpt = None,
    oracle_dir: OracleOpt = None,
) -> None:
    """Train a challenger on a rolling window and promote it only if it beats the champion.

    Both are scored on the challenger's out-of-time test period (the latest matured one): the challenger must gain PAYRISK_PROMOTION_MARGIN of ROC AUC of P(late) and lose at most PAYRISK_RETRAIN_BRIER_TOLERANCE of Brier. With no champion yet, the challenger becomes the first champion. A run on the same data and window with the same champion does nothing. Every decision is recorded in the MLflow experiment <experiment>-retrain.
    """  # noqa: E501 -- one line per paragraph, or the help text breaks mid-sentence
    settings = load_settings()
    with user_errors():
        from training.retrain import retrain
        from training.retrain_record import history as read_history

        client = prepare_stores(settings)
        if history:
            print_history(read_history(client, settings))
            return
        ledger, oracle = load_ledger(settings, ledger_dir, oracle_dir)
        model_name = settings.registered_model_name
        with (
            audit_store() as store,
            cli_audited(store, "model.retrain", target=model_name) as audit,
            console.status("retraining: features, challenger, gate"),
        ):
            outcome = retrain(
                ledger,
                settings,
                window_months=window_months,
                oracle=oracle,
                log=lambda line: console.print(line, highlight=False),
            )
            audit.done(
                "refused" if outcome.decision == "refused" else "ok",
                f"{model_name} v{outcome.challenger_version or '-'}",
                decision=outcome.decision,
                reason=outcome.reason,
                champion_before=outcome.champion_before,
                champion_after=outcome.champion_after,
            )
    _print_outcome(outcome)


def register(app: typer.Typer) -> None:
    """Add `retrain` to the root app."""
    app.command("retrain")(retrain_command)
