"""Through the CLI: `train --engine dask` logs a run, `score-batch` on both engines agrees.

A partitioned Parquet dataset of 80 customers (2 partitions), a real MLflow store in a
temporary folder and a 2-worker LocalCluster of threads. The commands are registered on
a local Typer app, as ``payrisk.cli`` does.
"""

from __future__ import annotations

import socket
import time
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
import typer
from threadpoolctl import threadpool_limits
from typer.testing import CliRunner, Result

from ledger.settlement import settled_dates
from ledger.synthetic import GeneratedLedger, GeneratorConfig, generate_chunks, generate_ledger
from ledger.synthetic.partitioned import write_partitioned
from models.registry import open_registry
from payrisk.commands import _common
from payrisk.commands import generate as generate_commands
from payrisk.commands import score_batch as score_batch_commands
from payrisk.commands import train as train_commands

pytestmark = pytest.mark.slow

CONFIG = GeneratorConfig(customers=80, years=2, seed=3, chunk_customers=40, end=date(2026, 11, 30))
FAST_TRAINING = {
    "PAYRISK_SNAPSHOT_EVERY_DAYS": "28",
    "PAYRISK_MODEL_N_ESTIMATORS": "40",
    "PAYRISK_MODEL_EARLY_STOPPING_ROUNDS": "10",
    "PAYRISK_MODEL_MIN_CHILD_SAMPLES": "20",
    "PAYRISK_MODEL_LEARNING_RATE": "0.1",
    "PAYRISK_BOOTSTRAP_ROUNDS": "0",
    "PAYRISK_BACKTEST_FOLDS": "1",
    "PAYRISK_DASK_WORKERS": "2",
    "PAYRISK_DASK_PROCESSES": "false",
    "PAYRISK_DASK_CONNECT_TIMEOUT_SECONDS": "2",
}
AS_OF = "2026-10-31"
NAME = "payment-risk"


def _app() -> typer.Typer:
    app = typer.Typer(pretty_exceptions_enable=False)
    train_commands.register(app)
    generate_commands.register(app)
    score_batch_commands.register(app)
    return app


def run(*args: str) -> Result:
    with threadpool_limits(limits=1, user_api="blas"):
        return CliRunner().invoke(_app(), list(args))


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (
        f"payrisk {' '.join(args)}:\n{result.output}\n{result.exception!r}"
    )
    return result.output


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at 80 columns without a terminal; widen it so messages stay on one line."""
    monkeypatch.setattr(_common.console, "_width", 200)
    monkeypatch.setattr(_common.err_console, "_width", 200)


@pytest.fixture
def fast_env(payrisk_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in FAST_TRAINING.items():
        monkeypatch.setenv(key, value)
    return payrisk_env


@pytest.fixture(scope="module")
def generated() -> GeneratedLedger:
    return generate_ledger(CONFIG)


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("dataset")
    write_partitioned(generate_chunks(CONFIG), folder)
    return folder


def _open_at_as_of(generated: GeneratedLedger) -> set[str]:
    invoices = generated.ledger.invoices
    settled = settled_dates(invoices, generated.ledger.payments)
    as_of = pd.Timestamp(AS_OF)
    is_open = (invoices["issue_date"] <= as_of) & ~(settled <= as_of)
    return set(invoices.loc[is_open, "invoice_id"])


def _scores(folder: Path) -> pd.DataFrame:
    frame = pd.read_parquet(folder)
    return frame.sort_values("invoice_id", ignore_index=True)


def test_train_on_dask_then_score_batch_on_both_engines(
    fast_env: Path, dataset: Path, generated: GeneratedLedger
) -> None:
    trained = ok("train", "--engine", "dask", "--dataset", str(dataset))
    assert "payment-risk v1 (alias challenger)" in trained
    tracking_uri = f"sqlite:///{fast_env / 'mlflow.db'}"
    client = open_registry(tracking_uri)
    run_id = client.get_model_version(NAME, "1").run_id
    logged = client.get_run(run_id)
    assert logged.data.params["engine"] == "dask"
    assert logged.data.tags["payrisk.engine"] == "dask"
    assert "test.oracle.roc_auc_late" in logged.data.metrics

    uri = f"models:/{NAME}@challenger"
    common = ("--as-of", AS_OF, "--model-uri", uri, "--dataset", str(dataset))
    ok("score-batch", "--engine", "pandas", "--out", str(fast_env / "pandas"), *common)
    ok("score-batch", "--engine", "dask", "--out", str(fast_env / "dask"), *common)
    by_pandas, by_dask = _scores(fast_env / "pandas"), _scores(fast_env / "dask")

    assert set(by_pandas["invoice_id"]) == _open_at_as_of(generated)
    assert len(by_pandas) == len(by_dask) > 100
    assert set(by_dask["model_version"]) == {"1"} and set(by_dask["model_name"]) == {NAME}
    assert set(by_dask["as_of"]) == {pd.Timestamp(AS_OF)}
    assert {"p_on_time", "p_late", "p_over_30", "predicted_payment_date"} <= set(by_dask.columns)
    pd.testing.assert_frame_equal(
        by_pandas.drop(columns="scored_at"), by_dask.drop(columns="scored_at")
    )


def test_dask_failures_before_logging_register_nothing(
    fast_env: Path, dataset: Path, tmp_path: Path
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    started = time.monotonic()
    unreachable = run(
        "train",
        "--engine",
        "dask",
        "--dataset",
        str(dataset),
        "--scheduler",
        f"tcp://127.0.0.1:{port}",
    )
    assert unreachable.exit_code == 1
    assert "no answer within 2 s" in unreachable.output
    assert time.monotonic() - started < 15

    (tmp_path / "invoices").mkdir()
    no_customers = run("train", "--engine", "dask", "--dataset", str(tmp_path))
    assert no_customers.exit_code == 1 and "no parquet files for customers" in no_customers.output

    client = open_registry(f"sqlite:///{fast_env / 'mlflow.db'}")
    assert client.search_registered_models() == []


def test_engine_options_are_checked(fast_env: Path) -> None:
    wrong = run("score-batch", "--engine", "spark", "--as-of", AS_OF, "--out", str(fast_env / "o"))
    assert wrong.exit_code == 1 and "use one of pandas, dask" in wrong.output
    no_dataset = run("train", "--engine", "dask")
    assert no_dataset.exit_code == 1 and "pass --dataset URL" in no_dataset.output


def test_generate_partitioned_writes_one_file_per_chunk_and_table(fast_env: Path) -> None:
    out = fast_env / "generated"
    args = ("generate", "--customers", "30", "--years", "1", "--end", "2026-06-30")
    ok(*args, "--format", "parquet", "--partitioned", "--out", str(out))
    for name in ("customers", "invoices", "payments", "activities", "truth/oracle"):
        assert [path.name for path in (out / name).iterdir()] == ["part-00000.parquet"]
    assert len(pd.read_parquet(out / "customers")) == 30
    refused = run(*args, "--partitioned", "--out", str(fast_env / "csv"))
    assert refused.exit_code == 1 and "--partitioned needs --format parquet" in refused.output
