"""`payrisk serve`: run the scoring service with uvicorn (``serving.app:create_app``)."""

from __future__ import annotations

import os
import secrets
import shutil
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from payrisk.commands._common import console, load_settings


def serve(
    host: Annotated[
        str | None, typer.Option("--host", help="Address to listen on (PAYRISK_HOST).")
    ] = None,
    port: Annotated[
        int | None, typer.Option("--port", min=1, max=65535, help="Port (PAYRISK_PORT).")
    ] = None,
    workers: Annotated[
        int | None, typer.Option("--workers", min=1, help="Worker processes (PAYRISK_WORKERS).")
    ] = None,
) -> None:
    """Serve the API (ingest, scores, model, health, metrics); docs at /docs."""
    import uvicorn

    settings = load_settings()
    chosen_host = host or settings.host
    chosen_port = port or settings.port
    console.print(
        f"payrisk API on http://{chosen_host}:{chosen_port} (docs at /docs)", highlight=False
    )
    # Each worker builds its own app from the environment's settings, so whatever must be
    # the same in every worker goes into the environment before they start.
    _share_with_workers(settings.session_secret)
    chosen_workers = workers or settings.workers
    with _shared_answers(settings.shared_answers_path, chosen_workers):
        uvicorn.run(
            "serving.app:create_app",
            factory=True,
            host=chosen_host,
            port=chosen_port,
            workers=chosen_workers,
            # The service logs one JSON line per request itself.
            access_log=False,
            # uvicorn kills a worker that misses a 5 s health ping; on a busy machine a
            # worker still importing and loading its model can miss it, and is then killed
            # in a loop.
            timeout_worker_healthcheck=60,
            log_level=settings.log_level.lower(),
        )


@contextmanager
def _shared_answers(configured: Path | None, workers: int) -> Iterator[None]:
    """With several workers, a file in a new temporary folder for the answers they share
    (``serving.shared_answers``), removed at the end: nothing in it outlives this start.
    A path set in the settings is the operator's: used as it is, and left in place."""
    if workers < 2 or configured is not None:
        yield
        return
    folder = Path(tempfile.mkdtemp(prefix="payrisk-answers-"))
    os.environ["PAYRISK_SHARED_ANSWERS_PATH"] = str(folder / "answers.sqlite")
    try:
        yield
    finally:
        os.environ.pop("PAYRISK_SHARED_ANSWERS_PATH", None)
        shutil.rmtree(folder, ignore_errors=True)


def _share_with_workers(session_secret: str | None) -> None:
    """One page-session secret for every worker (a sign-in must hold whichever answers),
    bounded MLflow retries (a reload against an unreachable registry must fail in seconds,
    not hold the model holder for minutes), and at most two glibc malloc arenas.

    Why the arenas: glibc gives each thread that allocates its own arena (up to 8 per
    core), and the request threads of a worker churn through pandas frames, so freed
    memory stays scattered over many arenas. Under the soak (``bench/soak.py``, 60 s, 150
    customers) the workers' memory grew 20% with the default and 11% with two arenas, and
    then stopped growing. glibc reads it when a process starts: it applies to the workers
    ``--workers 2`` or more spawns, not to a single in-process worker.
    """
    if not session_secret:
        os.environ["PAYRISK_SESSION_SECRET"] = secrets.token_urlsafe(32)
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "2")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", "10")
    os.environ.setdefault("MALLOC_ARENA_MAX", "2")


def register(root: typer.Typer) -> None:
    """Add `payrisk serve` to the root app."""
    root.command("serve")(serve)
