"""Lanes: at most a few heavy requests compute at once in a worker; scoring never waits.

Stored-mode scoring is what the collections system calls many times a minute and waits
on; a cached answer costs under a millisecond. The worklist, its pages and the KPIs cost
tens to hundreds of milliseconds of CPU each (ranking every customer), and ingest a few
tens (validation, rules, the upsert). All of them run in threads of one process, which
share one interpreter lock: with many heavy requests running, the event loop that
answers the scoring calls gets the lock only every few switch intervals, and a pandas
call that holds it for tens of milliseconds stalls every answer behind it. Under a mixed
load at concurrency 32 that made the p99 of scoring the p99 of everything (seconds).

Two lanes: ``bulk`` (the worklist, its pages, the KPIs) and ``ingest``. A heavy route
takes a slot of its lane before it starts (a dependency with ``yield``:
the slot is held until the route's answer is made). Requests beyond the lane's size wait
on the event loop, costing nothing, in arrival order (``asyncio.Semaphore`` is fair).
The heavy routes then keep the CPU they had -- a route computing alone in its process
finishes no later than when sharing it -- while a scoring request competes with at most
``size`` heavy threads for the lock. Each worker process has its own lanes (one per
event loop: tests may call one app from several loops).

The bulk lane's work itself computes in a child process of the worker by default
(``serving.bulk_runner``), so its thread only waits there; the lane still bounds how
many bulk requests the children get at once (one child per slot).
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Annotated, Any

from fastapi import Depends, Request

from serving.per_loop import PerLoop


class Lane:
    """At most ``size`` holders at once per event loop; the rest wait in arrival order."""

    def __init__(self, name: str, size: int) -> None:
        if size < 1:
            raise ValueError(f"lane {name!r}: size must be at least 1, got {size}")
        self.name = name
        self.size = size
        self._semaphores = PerLoop(lambda: asyncio.Semaphore(size))
        self.waiting = 0  # requests queued right now, all loops (for /metrics and tests)

    @asynccontextmanager
    async def hold(self) -> AsyncIterator[None]:
        """Wait for a slot, hold it while the caller runs, give it back however it ends."""
        semaphore = self._semaphores.get()
        self.waiting += 1
        try:
            await semaphore.acquire()
        finally:
            self.waiting -= 1
        try:
            yield
        finally:
            semaphore.release()


def in_lane(name: str) -> Any:
    """A route dependency (``dependencies=[in_lane("bulk")]``): run the route in this
    worker's lane ``name`` (``app.state.lanes``)."""

    async def hold_lane(request: Request) -> AsyncIterator[None]:
        lane: Lane = request.app.state.lanes[name]
        async with lane.hold():
            yield

    return Depends(hold_lane)


BulkLane = in_lane("bulk")
IngestLane = in_lane("ingest")
BulkLaneDep = Annotated[None, BulkLane]
