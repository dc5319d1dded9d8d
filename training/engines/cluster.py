"""The Dask client: a scheduler at an address, or a ``LocalCluster`` sized to this machine."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, Protocol

from ledger.errors import PayriskError

if TYPE_CHECKING:
    from distributed import Client


class SchedulerUnreachable(PayriskError):
    """The Dask scheduler did not answer within the timeout."""


class WorkerLost(PayriskError):
    """A task's worker died more often than the scheduler allows (``allowed-failures``)."""


class ClusterSettings(Protocol):
    """What the cluster reads from ``payrisk.settings.Settings``."""

    dask_scheduler: str | None
    dask_workers: int | None
    dask_worker_memory: str
    dask_connect_timeout_seconds: float
    dask_processes: bool


def local_worker_count(settings: ClusterSettings) -> int:
    """Workers of a LocalCluster: the setting, else one per CPU core this process may use."""
    if settings.dask_workers is not None:
        return settings.dask_workers
    return max(1, len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else 1)


@contextmanager
def dask_client(
    settings: ClusterSettings, scheduler: str | None = None, *, processes: bool | None = None
) -> Iterator[Client]:
    """A connected client; closed (and a LocalCluster shut down) on exit.

    ``scheduler`` (default ``settings.dask_scheduler``): connect there, or raise
    ``SchedulerUnreachable`` after ``dask_connect_timeout_seconds``. Without one: a
    LocalCluster of ``local_worker_count`` single-threaded workers, each limited to
    ``dask_worker_memory``; ``processes`` (default ``settings.dask_processes``) False runs
    them as threads in this process (tests: fast to start, memory limits not enforced).
    A task whose workers keep dying raises ``WorkerLost`` (Dask retries it first).
    """
    from distributed import KilledWorker

    try:
        with _connected(settings, scheduler, processes) as client:
            yield client
    except KilledWorker as error:
        # Dask already retried the task on other workers; say which task and what to check.
        raise WorkerLost(
            f"Dask workers died running task {error.task!r} "
            f"({error.allowed_failures + 1} attempt(s), the scheduler's allowed-failures is "
            f"{error.allowed_failures}); the run stopped and nothing was registered: check "
            "the workers' memory limit (PAYRISK_DASK_WORKER_MEMORY) and their logs"
        ) from error


@contextmanager
def _connected(
    settings: ClusterSettings, scheduler: str | None, processes: bool | None
) -> Iterator[Client]:
    """``dask_client`` without the error translation."""
    from distributed import Client, LocalCluster

    address = scheduler or settings.dask_scheduler
    if address is not None:
        timeout_seconds = settings.dask_connect_timeout_seconds
        try:
            client = Client(address, timeout=f"{timeout_seconds}s", set_as_default=False)
        except OSError as error:  # distributed raises OSError/TimeoutError when nobody answers
            raise SchedulerUnreachable(
                f"Dask scheduler {address}: no answer within {timeout_seconds:g} s ({error}); "
                "check the address (tcp://host:8786) or leave --scheduler out for a "
                "LocalCluster"
            ) from error
        with client:
            yield client
        return
    with (
        LocalCluster(
            n_workers=local_worker_count(settings),
            threads_per_worker=1,
            memory_limit=settings.dask_worker_memory,
            processes=settings.dask_processes if processes is None else processes,
            dashboard_address=None,
        ) as cluster,
        Client(cluster, set_as_default=False) as client,
    ):
        yield client
