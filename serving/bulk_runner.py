"""Bulk work (the worklist, its pages, the KPIs) in a lower-priority child process.

The lanes (``serving.lanes``) keep at most ``bulk_lane_size`` heavy requests computing
at once per worker, but a heavy request computing in a thread of the worker still shares
the worker's interpreter lock with everything else there: the event loop answering
cached scores, the thread scoring the misses, the answer warmer. Under ``make soak``
(150 customers, PostgreSQL, 2 workers, 2 cores) the worker's bulk thread was busy nearly
all the time, so every scoring call got about half the lock: p99 of scoring 193 ms, of
its cached answers 86 ms.

With ``bulk_runner="process"`` (the default) each worker hands that work to a child of
its own: ``bulk_lane_size`` processes, started with the worker, running at
``bulk_process_nice`` (a lower OS priority). The worker's thread only waits for the
answer, holding no lock; the kernel gives the CPU to the workers first and the rest to
the children. The same soak with the prototype: p99 of scoring 117-144 ms, of cached
answers 60-63 ms, with more requests served in all (the figures of the finished version
are in ``BENCHMARKS.md``). A child keeps its own caches (``serving.worklist_reads``,
``serving.kpi_reads``) across requests, and its own connections to the database.

``bulk_runner="thread"`` computes in the calling thread, as before, with the app's
store and settings of the moment: what the tests use unless they test this module, since
a child costs ~2 s to start and 300-450 MB. A child has the settings the app had when the
child started.

The work is a module-level function ``work(store, settings, *args)`` (picklable by
name), its arguments and its answer picklable. Errors come back as the caller would
have got them in a thread, so the error handlers answer the same: the database away is
``StoreUnavailable`` (503); an error that cannot cross processes becomes a
``RuntimeError`` naming it (500). A child that dies (killed, out of memory) is replaced
and the work tried once more in a new one. Work that takes longer than
``bulk_timeout_seconds`` gets a 503, and the children are stopped and replaced: one
stuck child must not hold every page of the worker.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import pickle
import threading
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from typing import Concatenate, ParamSpec, TypeVar

import sqlalchemy as sa
from starlette.datastructures import State

from ledger.store import LedgerStore
from ledger.store_errors import StoreUnavailable
from payrisk.settings import Settings
from serving.errors import ApiError

logger = logging.getLogger("serving.bulk_runner")
Params = ParamSpec("Params")
Answer = TypeVar("Answer")
Work = Callable[Concatenate[LedgerStore, Settings, Params], Answer]

# In a child: its store and settings, set once by ``_start_child``.
_child: dict[str, object] = {}


class BulkRunner:
    """Runs bulk work in this thread (``thread``) or in the worker's children (``process``)."""

    def __init__(self, state: State) -> None:
        self._state = state  # the app's: its store and settings when the work runs here
        self.in_process = state.settings.bulk_runner == "process"
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()
        self.replaced = 0  # children pools replaced after one died (tests, curiosity)

    def start(self) -> None:
        """Start the children now (not at the first page): a child imports for ~2 s. A
        failure is logged, not raised: the next bulk request tries again and answers it."""
        if not self.in_process:
            return
        try:
            self._current_pool().submit(_ready).result()
        except Exception as error:  # reported; the first bulk request tries again
            logger.warning("bulk process not started", extra={"fields": {"error": repr(error)}})
            self.close()

    def run(
        self, work: Work[Params, Answer], *args: Params.args, **kwargs: Params.kwargs
    ) -> Answer:
        """``work(store, settings, *args, **kwargs)``, here or in a child; blocks until done."""
        if not self.in_process:
            return work(self._state.store, self._state.settings, *args, **kwargs)
        pool = self._current_pool()
        try:
            return self._result(pool, work, args, kwargs)
        except BrokenProcessPool:
            self._replace(pool)
            return self._result(self._current_pool(), work, args, kwargs)

    def _result(
        self, pool: ProcessPoolExecutor, work: Callable[..., Answer], args: tuple, kwargs: dict
    ) -> Answer:
        """The work's answer from ``pool``; past ``bulk_timeout_seconds`` a 503, and the
        children are stopped (one may be stuck) and replaced for the next request."""
        seconds = self._state.settings.bulk_timeout_seconds
        future = pool.submit(_in_child, work, args, kwargs)
        try:
            return future.result(timeout=seconds)
        except TimeoutError:
            self._replace(pool, stop=True)
            raise ApiError(
                503,
                f"this page or report took longer than {seconds:g} s to compute; try again",
                headers={"Retry-After": "5"},
            ) from None

    def close(self) -> None:
        """Stop the children (work still queued is cancelled)."""
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)

    def child_pids(self) -> list[int]:
        """The running children's process ids (empty in thread mode or before the start)."""
        return sorted(_processes_of(self._pool))

    def _current_pool(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                settings: Settings = self._state.settings
                self._pool = ProcessPoolExecutor(
                    max_workers=settings.bulk_lane_size,
                    mp_context=multiprocessing.get_context("spawn"),
                    initializer=_start_child,
                    initargs=(settings, settings.bulk_process_nice),
                )
            return self._pool

    def _replace(self, broken: ProcessPoolExecutor, *, stop: bool = False) -> None:
        """The next work goes to new children; ``stop``: end the old ones now (their work
        in flight, if any, is tried once more in the new ones: ``run``)."""
        with self._lock:
            if self._pool is broken:
                self._pool = None
                self.replaced += 1
        if stop:
            for process in list(_processes_of(broken).values()):
                process.terminate()
        broken.shutdown(wait=False, cancel_futures=True)


def _processes_of(pool: ProcessPoolExecutor | None) -> dict[int, multiprocessing.Process]:
    """The pool's children by process id. ``ProcessPoolExecutor`` has no public way to
    list or stop its workers before Python 3.14 (``terminate_workers``): its private
    ``_processes``, read in this one place; empty if it is absent."""
    return dict(getattr(pool, "_processes", None) or {})


def _start_child(settings: Settings, nice: int) -> None:
    """A child's start: lower its priority, open its own store (its own connections)."""
    from serving.app import service_store  # the child imports the service on its own

    os.nice(nice)
    _child["store"] = service_store(settings)
    _child["settings"] = settings


def _ready() -> int:
    return os.getpid()


def _in_child(work: Callable[..., Answer], args: tuple, kwargs: dict) -> Answer:
    store, settings = _child["store"], _child["settings"]
    try:
        return work(store, settings, *args, **kwargs)
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.TimeoutError) as error:
        # the parent answers 503 as it would for these; their own classes may not unpickle
        raise StoreUnavailable(f"{type(error).__name__}: {error}") from None
    except Exception as error:
        if _crosses_processes(error):
            raise
        raise RuntimeError(f"{type(error).__name__} in the bulk process: {error}") from None


def _crosses_processes(error: Exception) -> bool:
    """Whether ``error`` survives pickling (exceptions with their own ``__init__`` often don't)."""
    try:
        pickle.loads(pickle.dumps(error))
    except Exception:
        return False
    return True
