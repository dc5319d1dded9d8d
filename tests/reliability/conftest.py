"""Fixtures for the reliability tests: a private PostgreSQL cluster, a real `payrisk serve`.

``private_postgres`` runs its own cluster (``initdb`` + ``pg_ctl`` in a temporary folder,
a free port) that a test may stop and start: the machine's PostgreSQL is never touched.
As root, the cluster runs as the ``postgres`` user (``initdb`` refuses root).
``serve_payrisk`` starts ``payrisk serve`` as a subprocess in its own process group and
stops it after the test.
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

BIN = Path(sys.executable).parent
SERVER_START_SECONDS = 120.0


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_until(check: Callable[[], bool], timeout_seconds: float, what: str) -> float:
    """Poll ``check`` every 0.1 s until it is true; seconds waited, or fail after the timeout."""
    started = time.monotonic()
    while not check():
        if time.monotonic() - started > timeout_seconds:
            pytest.fail(f"{what}: not within {timeout_seconds:.0f} s")
        time.sleep(0.1)
    return time.monotonic() - started


class PrivatePostgres:
    """A PostgreSQL cluster of our own in a temporary folder, on 127.0.0.1 and a free port."""

    def __init__(self, bin_dir: Path, folder: Path, run_as: str | None) -> None:
        self.bin_dir = bin_dir
        self.folder = folder
        self.data_dir = folder / "data"
        self.port = free_port()
        self.run_as = run_as

    @property
    def admin_url(self) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/postgres"

    def url_of(self, database: str) -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin_dir / args[0]), *args[1:]]
        if self.run_as is not None:
            command = ["runuser", "-u", self.run_as, "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=120)

    def init(self) -> None:
        # fsync off: only process deaths are simulated here, never a lost machine.
        self._run(
            "initdb",
            "-D",
            str(self.data_dir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        )
        self.start()

    def start(self) -> None:
        options = (
            f"-p {self.port} -k {self.folder} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c max_connections=100"
        )
        self._run(
            "pg_ctl",
            "-D",
            str(self.data_dir),
            "-o",
            options,
            "-l",
            str(self.folder / "server.log"),
            "-w",
            "-t",
            "60",
            "start",
        )

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (``fast``: disconnect clients; ``immediate``: like a crash)."""
        self._run("pg_ctl", "-D", str(self.data_dir), "-m", mode, "-w", "-t", "60", "stop")

    def create_database(self, name: str) -> str:
        import sqlalchemy as sa

        engine = sa.create_engine(self.admin_url, isolation_level="AUTOCOMMIT")
        with engine.connect() as connection:
            connection.execute(sa.text(f'create database "{name}"'))
        engine.dispose()
        return self.url_of(name)


def _postgres_bin_dir() -> Path | None:
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"))
    return Path(found[-1]).parent if found else None


@pytest.fixture(scope="module")
def private_postgres(service_missing: Callable[[str, object], None]) -> Iterator[PrivatePostgres]:
    """A private cluster for the module; stopped and deleted afterwards."""
    bin_dir = _postgres_bin_dir()
    if bin_dir is None:
        service_missing("PostgreSQL server binaries (/usr/lib/postgresql/*/bin)", "not found")
        raise AssertionError  # unreachable: the line above fails or skips
    run_as = "postgres" if os.geteuid() == 0 else None
    folder = Path(tempfile.mkdtemp(prefix="payrisk-pg-"))
    if run_as is not None:
        user = pwd.getpwnam(run_as)
        os.chown(folder, user.pw_uid, user.pw_gid)
    cluster = PrivatePostgres(bin_dir, folder, run_as)
    try:
        cluster.init()
    except subprocess.CalledProcessError as error:
        log = folder / "server.log"
        detail = log.read_text()[-2000:] if log.exists() else ""
        shutil.rmtree(folder, ignore_errors=True)
        service_missing("a private PostgreSQL cluster", f"{error.stderr!r} {detail}")
    try:
        yield cluster
    finally:
        with contextlib.suppress(subprocess.CalledProcessError):  # already stopped
            cluster.stop("immediate")
        shutil.rmtree(folder, ignore_errors=True)


class ServiceProcess:
    """``payrisk serve`` in its own process group, with the given environment."""

    def __init__(self, env: dict[str, str], workers: int, log: Path) -> None:
        self.env = env
        self.workers = workers
        self.log = log
        self.port = free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> None:
        """Start and wait until it answers ``/healthz`` (the lifespan has run by then)."""
        command = [
            str(BIN / "payrisk"),
            "serve",
            "--host",
            "127.0.0.1",
            "--port",
            str(self.port),
            "--workers",
            str(self.workers),
        ]
        # the workers' shared answers in the test's folder: serve's own temporary folder
        # would stay behind in /tmp when a test kills it (SIGKILL)
        shared = {"PAYRISK_SHARED_ANSWERS_PATH": str(self.log.parent / "shared-answers.sqlite")}
        with self.log.open("ab") as output:
            self.process = subprocess.Popen(
                command,
                env={**os.environ, **shared, **self.env},
                stdout=output,
                stderr=output,
                start_new_session=True,
            )
        wait_until(self._answers, SERVER_START_SECONDS, f"payrisk serve (log: {self.log})")

    def _answers(self) -> bool:
        assert self.process is not None
        if self.process.poll() is not None:
            pytest.fail(f"payrisk serve exited with {self.process.returncode}; see {self.log}")
        try:
            return httpx.get(f"{self.base_url}/healthz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    def stop(self) -> None:
        """SIGTERM to its process group (a graceful shutdown), SIGKILL after 20 s."""
        if self.process is None or self.process.poll() is not None:
            return
        os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()

    def kill(self) -> None:
        """SIGKILL to its process group: the supervisor and every worker die at once."""
        if self.process is not None and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)


ServeFactory = Callable[..., ServiceProcess]


@pytest.fixture
def serve_payrisk(tmp_path: Path) -> Iterator[ServeFactory]:
    """Start ``payrisk serve`` with ``PAYRISK_*`` settings; every one is stopped afterwards.

    Without a tracking URI it points at a folder that does not exist: no model, fast start.
    """
    started: list[ServiceProcess] = []

    def start(workers: int = 1, **settings: str) -> ServiceProcess:
        env = {
            "PAYRISK_DATA_DIR": str(tmp_path / "data"),
            "PAYRISK_MLFLOW_TRACKING_URI": f"sqlite:///{tmp_path / 'no-mlflow' / 'mlflow.db'}",
            "PAYRISK_MODEL_POLL_SECONDS": "0",
            "PAYRISK_API_KEY_CACHE_SECONDS": "30",
            "PAYRISK_LOG_LEVEL": "WARNING",
        }
        env |= {f"PAYRISK_{name.upper()}": value for name, value in settings.items()}
        service = ServiceProcess(env, workers, tmp_path / f"serve-{len(started)}.log")
        started.append(service)
        service.start()
        return service

    yield start
    for service in reversed(started):
        service.stop()


@pytest.fixture(scope="module")
def tiny_champion(
    tmp_path_factory: pytest.TempPathFactory, train_tiny_champion: Callable[[Path], Any]
) -> Any:
    """A tiny trained ``payment-risk@champion`` in an MLflow store of the module's own."""
    return train_tiny_champion(tmp_path_factory.mktemp("mlflow"))


@pytest.fixture
def poll() -> Callable[[Callable[[], bool], float, str], float]:
    """``poll(check, timeout_seconds, what)``: wait for ``check``; seconds, or fail."""
    return wait_until
