"""`payrisk train`, `payrisk promote` and `payrisk evaluate`: the model's life cycle in MLflow.

Heavy imports (pandas, LightGBM, MLflow) happen inside the commands, so `payrisk --help`
stays fast. Reading the ledger and opening MLflow are ``_ledger_input`` (shared with the
other model commands), the printed tables ``_metrics_table``.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from payrisk.commands._common import console, err_console, load_settings, user_errors
from payrisk.commands._engine import (
    DatasetOpt,
    EngineOpt,
    SchedulerOpt,
    check_engine,
    dataset_url,
)
from payrisk.commands._ledger_input import (
    DEFAULT_MODEL_URI,
    LedgerOpt,
    OracleOpt,
    load_ledger,
    prepare_stores,
)
from payrisk.commands._metrics_table import format_metric, print_metrics_table, print_splits
from payrisk.commands.audit import audit_store, cli_audited, decision_detail

if TYPE_CHECKING:
    from payrisk.settings import Settings

__all__ = [
    "evaluate_command",
    "print_metrics_table",
    "promote_command",
    "register",
    "train_command",
]


def train_command(
    ledger_dir: LedgerOpt = None,
    oracle_dir: OracleOpt = None,
    snapshot_every_days: Annotated[
        int | None, typer.Option("--snapshot-every-days", min=1, help="Snapshot interval.")
    ] = None,
    seed: Annotated[int | None, typer.Option("--seed", help="Random seed.")] = None,
    engine: EngineOpt = "pandas",
    dataset: DatasetOpt = None,
    scheduler: SchedulerOpt = None,
) -> None:
    """Train the model and baselines, log the run to MLflow, register it as `challenger`.

    --engine dask builds the features on a Dask cluster from a partitioned Parquet dataset (--dataset, or --ledger) and fits the model there with lightgbm.dask; calibration, evaluation and logging stay here.
    """  # noqa: E501 -- one line per paragraph, or the help text breaks mid-sentence
    settings = load_settings()
    overrides = {"snapshot_every_days": snapshot_every_days, "random_seed": seed}
    settings = settings.model_copy(update={k: v for k, v in overrides.items() if v is not None})
    with user_errors():
        from training.tracking import log_training_run

        check_engine(engine, scheduler)
        url = dataset_url(dataset, ledger_dir) if engine == "dask" else None
        prepare_stores(settings)
        if url is not None:
            result = _train_on_dask(settings, url, scheduler)
        else:
            result = _train_in_process(settings, ledger_dir, oracle_dir, dataset)
        # Only a finished result is logged: a failure above registers nothing.
        with console.status("logging the run, the plots and the model to MLflow"):
            run = log_training_run(result, settings, engine=engine)
    print_splits(result.split_summary)
    print_metrics_table(result.metrics, "Test period (out of time)")
    for warning in result.warnings:
        err_console.print(f"[yellow]warning:[/] {warning}", highlight=False)
    console.print(
        f"run {run.run_id} -> {settings.registered_model_name} v{run.version} "
        f"(alias challenger); promote it with `payrisk promote`",
        highlight=False,
    )


def _train_in_process(
    settings: Settings, ledger_dir: Path | None, oracle_dir: Path | None, dataset: str | None
) -> Any:
    """The pandas engine: the ledger (folder, dataset or database) trained in this process."""
    from training.engines.pandas import read_dataset, train_pandas

    if dataset is not None:
        ledger, oracle = read_dataset(dataset)
    else:
        ledger, oracle = load_ledger(settings, ledger_dir, oracle_dir)
    console.print(
        f"training on {len(ledger.invoices)} invoices of {len(ledger.customers)} customers"
        + (" (with the oracle)" if oracle is not None else ""),
        highlight=False,
    )
    with console.status("training: features, model, baselines, evaluation, backtest"):
        return train_pandas(ledger, settings, oracle)


def _train_on_dask(settings: Settings, url: str, scheduler: str | None) -> Any:
    """The dask engine: features and lightgbm.dask on the cluster, evaluation in this process."""
    from training.engines.cluster import dask_client
    from training.engines.dask_training import train_dask

    console.print(f"training on the dataset {url} with the dask engine", highlight=False)
    with (
        dask_client(settings, scheduler) as client,
        console.status("training: features and model on Dask, then evaluation, backtest"),
    ):
        return train_dask(url, settings, client)


def promote_command(
    force: Annotated[
        bool, typer.Option("--force", help="Promote even if the gate refuses (recorded).")
    ] = False,
    version: Annotated[
        int | None,
        typer.Option("--version", min=1, help="Make this version champion, no gate (rollback)."),
    ] = None,
    reason: Annotated[str | None, typer.Option("--reason", help="Why, for the record.")] = None,
    ledger_dir: LedgerOpt = None,
) -> None:
    """Move `champion` to the challenger if it beats the champion on the latest test period.

    Both models are re-scored on the current ledger's latest out-of-time test split and compared on ROC AUC of P(late), with PAYRISK_PROMOTION_MARGIN. A refusal exits 0.
    """  # noqa: E501 -- one line per paragraph, or the help text breaks mid-sentence
    settings = load_settings()
    model_name = settings.registered_model_name
    with (
        user_errors(),
        audit_store() as store,
        cli_audited(store, "model.promote", target=model_name) as audit,
    ):
        from models.registry import promote

        client = prepare_stores(settings)
        decision = promote(
            client,
            settings.registered_model_name,
            evaluate=_gate_evaluation(settings, ledger_dir),
            margin=settings.promotion_margin,
            force=force,
            reason=reason,
            version=None if version is None else str(version),
        )
        target = f"{model_name} v{decision.challenger_version}"
        refused = decision.decision == "refused"
        audit.done("refused" if refused else "ok", target, **decision_detail(decision))
    color = "green" if decision.promoted else "yellow"
    console.print(f"[{color}]{decision.message}[/]", highlight=False)
    console.print(
        f"champion: v{decision.champion_after or '-'} (was v{decision.champion_before or '-'})",
        highlight=False,
    )


def _gate_evaluation(
    settings: Settings, ledger_dir: Path | None
) -> Callable[[str], dict[str, float]]:
    """model URI -> its test metrics on the current ledger; the split is built once, lazily."""
    cache: dict[str, Any] = {}

    def evaluate(model_uri: str) -> dict[str, float]:
        from models.pyfunc import load_payment_risk_model
        from training.rescore import latest_test_period, model_metrics, rescore

        if "period" not in cache:
            ledger, _ = load_ledger(settings, ledger_dir, None)
            cache["period"] = latest_test_period(ledger, settings)
            console.print(f"gate: scoring on {cache['period'].description}", highlight=False)
        loaded = load_payment_risk_model(model_uri, tracking_uri=settings.resolved_tracking_uri)
        metrics = model_metrics(rescore(loaded.model, cache["period"], settings))
        console.print(f"gate: {model_uri} ROC AUC P(late) {format_metric(metrics['roc_auc_late'])}")
        return metrics

    return evaluate


def evaluate_command(
    model_uri: Annotated[
        str, typer.Option("--model-uri", help="An MLflow model URI.")
    ] = DEFAULT_MODEL_URI,
    ledger_dir: LedgerOpt = None,
    oracle_dir: OracleOpt = None,
) -> None:
    """Re-score a saved model on the ledger's latest out-of-time test split."""
    settings = load_settings()
    with user_errors():
        from models.pyfunc import feature_code_version, load_payment_risk_model
        from models.registry import resolve_model_uri
        from training.rescore import latest_test_period, rescore

        client = prepare_stores(settings)
        resolve_model_uri(client, model_uri)
        loaded = load_payment_risk_model(model_uri, tracking_uri=settings.resolved_tracking_uri)
        ledger, oracle = load_ledger(settings, ledger_dir, oracle_dir)
        period = latest_test_period(ledger, settings, oracle=oracle)
        metrics = rescore(loaded.model, period, settings, with_baselines=True)
    if loaded.card.feature_code_version != feature_code_version():
        err_console.print(
            "[yellow]warning:[/] the model was trained with other feature code "
            f"({loaded.card.feature_code_version}, now {feature_code_version()})",
            highlight=False,
        )
    print_metrics_table(metrics, f"{model_uri} on {period.description}")


def register(app: typer.Typer) -> None:
    """Add `train`, `promote` and `evaluate` to the root app."""
    app.command("train")(train_command)
    app.command("promote")(promote_command)
    app.command("evaluate")(evaluate_command)
