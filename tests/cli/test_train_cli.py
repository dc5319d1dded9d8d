"""End to end through the real CLI: import -> train -> promote -> load -> predict -> serve.

A small generated ledger, a real SQLite ledger database and a real MLflow store (SQLite +
local artifacts), all in a temporary folder. Training is made fast through settings
(few trees, one backtest fold, no bootstrap), which is what PAYRISK_ variables are for.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from mlflow.models import convert_input_example_to_serving_input
from threadpoolctl import threadpool_limits
from typer.testing import CliRunner, Result

from ledger.synthetic import GeneratorConfig, generate_ledger, write_generated
from models.pyfunc import load_payment_risk_model, tracking_uri_set
from models.registry import aliases_of, open_registry
from payrisk.cli import app
from payrisk.commands import _common

pytestmark = pytest.mark.slow

FAST_TRAINING = {
    "PAYRISK_SNAPSHOT_EVERY_DAYS": "28",
    "PAYRISK_MODEL_N_ESTIMATORS": "40",
    "PAYRISK_MODEL_EARLY_STOPPING_ROUNDS": "10",
    "PAYRISK_MODEL_MIN_CHILD_SAMPLES": "20",
    "PAYRISK_MODEL_LEARNING_RATE": "0.1",
    "PAYRISK_BOOTSTRAP_ROUNDS": "0",
    "PAYRISK_BACKTEST_FOLDS": "1",
}
NAME = "payment-risk"


@pytest.fixture(autouse=True)
def wide_consoles(monkeypatch: pytest.MonkeyPatch) -> None:
    """Rich wraps at 80 columns without a terminal; widen it so rows stay on one line."""
    monkeypatch.setattr(_common.console, "_width", 200)
    monkeypatch.setattr(_common.err_console, "_width", 200)


@pytest.fixture(autouse=True)
def one_blas_thread() -> Iterator[None]:
    """On 2 shared cores, BLAS threads spinning against other processes make the logistic
    baseline tens of times slower; one thread is as fast for its small matrices."""
    with threadpool_limits(limits=1, user_api="blas"):
        yield


@pytest.fixture
def fast_env(payrisk_env: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    for key, value in FAST_TRAINING.items():
        monkeypatch.setenv(key, value)
    return payrisk_env


@pytest.fixture(scope="module")
def ledger_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """80 customers over 2 years, written as CSV with the oracle in truth/."""
    folder = tmp_path_factory.mktemp("ledger")
    generated = generate_ledger(
        GeneratorConfig(customers=80, years=2, seed=3, end=date(2026, 11, 30))
    )
    write_generated(generated, folder)
    return folder


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def ok(*args: str) -> str:
    result = run(*args)
    assert result.exit_code == 0, (
        f"payrisk {' '.join(args)}:\n{result.output}\n{result.exception!r}"
    )
    return result.output


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_train_promote_load_and_predict(fast_env: Path, ledger_dir: Path) -> None:
    tracking_uri = f"sqlite:///{fast_env / 'mlflow.db'}"
    ok("ledger", "import", str(ledger_dir))

    trained = ok("train", "--oracle-dir", str(ledger_dir / "truth"))
    assert "model (uncalibrated)" in trained and "oracle" in trained
    assert "payment-risk v1 (alias challenger)" in trained

    first = ok("promote")
    assert "v1 promoted to champion (first champion)" in first
    assert "already champion" in ok("promote")

    champion = load_payment_risk_model(f"models:/{NAME}@champion", tracking_uri=tracking_uri)
    with tracking_uri_set(tracking_uri):
        pyfunc = mlflow.pyfunc.load_model(f"models:/{NAME}@champion")
        example = pyfunc.input_example
        predicted = pyfunc.predict(example)
    expected = champion.model.predict_proba(example)
    np.testing.assert_allclose(predicted["p_on_time"], expected[:, 0])
    assert predicted.shape[0] == len(example) > 0
    check_served(tracking_uri, example, 1 - expected[:, 0], fast_env.parent / "serve.log")

    # same ledger, same seed: an equal challenger does not pass the gate
    assert "payment-risk v2 (alias challenger)" in ok("train")
    refused = ok("promote")
    assert "v2 NOT promoted" in refused and "does not beat" in refused
    forced = ok("promote", "--force", "--reason", "e2e test")
    assert "v2 promoted to champion by --force" in forced
    rollback = ok("promote", "--version", "1")
    assert "v1 set as champion by --version" in rollback

    client = open_registry(tracking_uri)
    assert aliases_of(client, NAME) == {"challenger": "2", "champion": "1"}
    assert client.get_model_version(NAME, "2").tags["promotion.forced"] == "true"
    assert client.get_model_version(NAME, "1").tags["promotion.decision"] == "rollback"

    evaluated = ok("evaluate", "--model-uri", f"models:/{NAME}@champion")
    assert "aging" in evaluated and "test as-of" in evaluated


def test_bad_inputs_exit_non_zero_with_a_message(fast_env: Path, ledger_dir: Path) -> None:
    unknown = run("evaluate", "--model-uri", f"models:/{NAME}/99")
    assert unknown.exit_code == 1
    assert "has no version '99'" in unknown.output

    no_ledger = run("train")
    assert no_ledger.exit_code == 1 and "payrisk ledger import" in no_ledger.output

    missing_folder = run("train", "--ledger", str(fast_env / "nowhere"))
    assert missing_folder.exit_code != 0


def test_unreachable_tracking_store_fails_fast_and_registers_nothing(
    fast_env: Path, ledger_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYRISK_MLFLOW_TRACKING_URI", f"http://127.0.0.1:{_free_port()}")
    started = time.monotonic()
    result = run("train", "--ledger", str(ledger_dir))
    assert result.exit_code == 1
    assert "cannot be reached" in result.output
    assert time.monotonic() - started < 15

    monkeypatch.setenv("PAYRISK_MLFLOW_TRACKING_URI", f"sqlite:///{fast_env / 'no' / 'mlflow.db'}")
    result = run("promote")
    assert result.exit_code == 1 and "does not exist" in result.output
    assert not (fast_env / "no").exists()


@contextmanager
def serving(model_uri: str, tracking_uri: str, log_path: Path) -> Iterator[str]:
    """`mlflow models serve --env-manager local`, up and answering; yields its base URL."""
    port = _free_port()
    # The server execs `uvicorn` by name: it must be on PATH even without an activated venv.
    path = os.pathsep.join([str(Path(sys.executable).parent), os.environ.get("PATH", "")])
    env = os.environ | {"MLFLOW_TRACKING_URI": tracking_uri, "PATH": path}
    command = [sys.executable, "-m", "mlflow", "models", "serve", "-m", model_uri,
               "--env-manager", "local", "--host", "127.0.0.1", "--port", str(port)]  # fmt: skip
    with log_path.open("wb") as log:
        server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_until_up(url, server, log_path, timeout_seconds=90)
        yield url
    finally:
        server.terminate()
        try:
            server.wait(timeout=10)
        except subprocess.TimeoutExpired:
            server.kill()
            server.wait(timeout=10)


def _wait_until_up(
    url: str, server: subprocess.Popen[bytes], log_path: Path, timeout_seconds: float
) -> None:
    deadline = time.monotonic() + timeout_seconds
    while time.monotonic() < deadline and server.poll() is None:
        try:
            with urllib.request.urlopen(url + "/ping", timeout=2):
                return
        except OSError:
            time.sleep(0.5)
    log_tail = log_path.read_text(errors="replace")[-3000:]
    raise AssertionError(f"mlflow models serve did not answer at {url}:\n{log_tail}")


def _post_json(url: str, payload: str) -> pd.DataFrame:
    request = urllib.request.Request(
        url, data=payload.encode(), headers={"Content-Type": "application/json"}
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return pd.DataFrame(json.loads(response.read())["predictions"])


def check_served(
    tracking_uri: str, example: pd.DataFrame, expected_p_late: np.ndarray, log_path: Path
) -> None:
    """The real scoring server answers /invocations like the in-memory model."""
    payload = convert_input_example_to_serving_input(example)
    assert payload is not None
    with serving(f"models:/{NAME}@champion", tracking_uri, log_path) as url:
        predictions = _post_json(url + "/invocations", payload)
    np.testing.assert_allclose(predictions["p_late"], expected_p_late, rtol=1e-6)
