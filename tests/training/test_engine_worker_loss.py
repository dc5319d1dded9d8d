"""A Dask worker killed in the middle of feature building, on a LocalCluster of processes.

The trigger is deterministic: a worker plugin kills its own worker process (``os._exit``)
when a feature-building task (``_partition_frame``) starts executing and a marker file
does not exist yet; the first worker to create the marker dies, every later attempt runs.

* With Dask's default retries the task is rerun on a fresh worker and the training frame
  is exactly the pandas engine's.
* With retries off (``allowed-failures`` 0) the command fails with a clear error and
  nothing is registered in MLflow.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

import dask
import pandas as pd
import pytest
import typer
from distributed import Client, LocalCluster
from distributed.diagnostics.plugin import WorkerPlugin
from typer.testing import CliRunner

from ledger.synthetic import GeneratorConfig, generate_ledger
from models.registry import open_registry
from payrisk.commands import train as train_commands
from payrisk.settings import Settings
from training.dataset import build_training_frame
from training.engines.dask import build_training_frame_dask

pytestmark = pytest.mark.slow

CONFIG = GeneratorConfig(customers=40, years=2, seed=8, chunk_customers=10, end=date(2026, 6, 30))
SETTINGS = Settings(snapshot_every_days=28)
FEATURE_TASK = "_partition_frame"


class KillOnFirstFeatureTask(WorkerPlugin):
    """Kill this worker's process when a feature task starts, once per marker file."""

    def __init__(self, marker: str) -> None:
        self.marker = marker

    def transition(self, key: Any, start: str, finish: str, **kwargs: Any) -> None:
        if finish != "executing" or FEATURE_TASK not in str(key):
            return
        try:  # O_EXCL: exactly one worker wins the marker, however many race for it
            os.close(os.open(self.marker, os.O_CREAT | os.O_EXCL | os.O_WRONLY))
        except FileExistsError:
            return
        os._exit(1)


@contextmanager
def killing_cluster(marker: Path, allowed_failures: int) -> Iterator[Client]:
    """A 2-process LocalCluster whose workers carry the plugin; the scheduler's retry limit."""
    with (
        dask.config.set({"distributed.scheduler.allowed-failures": allowed_failures}),
        LocalCluster(
            n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        client.register_plugin(KillOnFirstFeatureTask(str(marker)))
        yield client


def test_a_killed_worker_is_retried_and_the_features_are_unchanged(
    dataset: Path, tmp_path: Path
) -> None:
    marker = tmp_path / "killed"
    with killing_cluster(marker, allowed_failures=3) as client:
        workers_before = set(client.scheduler_info()["workers"])
        frame, _, _ = build_training_frame_dask(str(dataset), SETTINGS, client)
        workers_after = set(client.scheduler_info()["workers"])
    assert marker.exists()  # a worker really died mid-run...
    assert workers_before - workers_after  # ...and was replaced
    generated = generate_ledger(CONFIG)
    expected = build_training_frame(generated.ledger, SETTINGS, oracle=generated.oracle)
    pd.testing.assert_frame_equal(frame, expected)


def test_a_run_whose_worker_dies_without_retries_fails_and_registers_nothing(
    dataset: Path, payrisk_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    marker = tmp_path / "killed"
    monkeypatch.setenv("PAYRISK_SNAPSHOT_EVERY_DAYS", "28")
    with killing_cluster(marker, allowed_failures=0) as client:
        app = typer.Typer(pretty_exceptions_enable=False)
        train_commands.register(app)
        address = client.scheduler.address
        args = ["train", "--engine", "dask", "--dataset", str(dataset), "--scheduler", address]
        result = CliRunner().invoke(app, args)
    assert marker.exists()
    assert result.exit_code == 1, result.output
    message = " ".join(result.output.split())
    assert "Dask workers died running task" in message
    assert "nothing was registered" in message
    registry = open_registry(f"sqlite:///{payrisk_env / 'mlflow.db'}")
    assert registry.search_registered_models() == []
