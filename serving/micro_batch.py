"""Coalescing of concurrent requests of one worker into batches (micro-batching).

Scoring one customer costs about the same CPU as scoring sixteen: most of it is fixed
cost per call (pandas and LightGBM set-up, ``serving.scoring``). ``MicroBatcher`` lets
the requests that arrive while a batch is computing wait and go together as the next
batch, instead of each paying that cost. A request that finds the batcher idle waits at
most ``max_wait_seconds`` for others (less when the batch fills): callers that were
answered together by the last batch ask again within a few ms of each other, and without
that short wait the first of them would run alone, the others after it -- twice the
batches for the same answers. A request that finds a batch running waits for it and goes
in the next one, without any timer. At most ``max_batch`` items go in one batch, and
only items of the same group (e.g. same model, as-of date and language) go together.

One batch computes at a time per batcher (per worker process: scoring is CPU-bound and
the service runs one worker per core), in a worker thread, so the event loop keeps
accepting requests and answering cached ones meanwhile.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from starlette.concurrency import run_in_threadpool

Item = TypeVar("Item")
Result = TypeVar("Result")
# A batch's answers, one per item in order: a result, or the exception for that item.
Compute = Callable[[Sequence[Item]], Sequence[Result | Exception]]


@dataclass
class _Pending(Generic[Item, Result]):
    group: Hashable
    item: Item
    compute: Compute[Item, Result]
    future: asyncio.Future[Result]


class MicroBatcher(Generic[Item, Result]):
    """Runs ``submit``ted items in batches of at most ``max_batch`` of one group."""

    def __init__(self, max_batch: int, max_wait_seconds: float = 0.0) -> None:
        if max_batch < 1:
            raise ValueError(f"max_batch must be at least 1, got {max_batch}")
        if max_wait_seconds < 0:
            raise ValueError(f"max_wait_seconds must be >= 0, got {max_wait_seconds}")
        self.max_batch = max_batch
        self.max_wait_seconds = max_wait_seconds
        # set when the batch fills during ``_gather``; made there, on the running loop
        self._full: asyncio.Event | None = None
        self._pending: list[_Pending[Item, Result]] = []
        self._draining: asyncio.Task[None] | None = None
        self.batches = 0  # batches computed, for tests and curiosity
        self.items = 0

    async def submit(self, group: Hashable, item: Item, compute: Compute[Item, Result]) -> Result:
        """``item``'s result from ``compute`` called on a batch of items of ``group``.

        ``compute`` must answer each item as if it were alone (the batch is only a way to
        share fixed costs); every item of one batch must accept the same ``compute``,
        which is why the group says which items may share one.
        """
        future: asyncio.Future[Result] = asyncio.get_running_loop().create_future()
        self._pending.append(_Pending(group, item, compute, future))
        if self._full is not None and len(self._pending) >= self.max_batch:
            self._full.set()
        if self._draining is None or self._draining.done():
            self._draining = asyncio.create_task(self._drain())
        return await future

    def _take(self) -> list[_Pending[Item, Result]]:
        """The next batch: the oldest item's group, oldest first, at most ``max_batch``."""
        group = self._pending[0].group
        batch: list[_Pending[Item, Result]] = []
        rest: list[_Pending[Item, Result]] = []
        for pending in self._pending:
            fits = pending.group == group and len(batch) < self.max_batch
            (batch if fits else rest).append(pending)
        self._pending = rest
        return batch

    async def _gather(self) -> None:
        """Wait up to ``max_wait_seconds`` for a full batch (the batcher was idle)."""
        if self.max_wait_seconds <= 0 or len(self._pending) >= self.max_batch:
            return
        self._full = full = asyncio.Event()
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(full.wait(), self.max_wait_seconds)
        finally:
            self._full = None

    async def _drain(self) -> None:
        await self._gather()
        while self._pending:
            batch = [pending for pending in self._take() if not pending.future.done()]
            if not batch:
                continue  # every caller of this batch went away
            self.batches += 1
            self.items += len(batch)
            try:
                results = await run_in_threadpool(
                    batch[0].compute, [pending.item for pending in batch]
                )
            except asyncio.CancelledError:  # the loop is going away: nobody is left waiting
                for pending in [*batch, *self._pending]:
                    pending.future.cancel()
                self._pending = []
                raise
            except Exception as error:  # the whole batch failed: each caller gets it
                results = [error] * len(batch)
            if len(results) != len(batch):
                mismatch = RuntimeError(f"{len(results)} results for a batch of {len(batch)}")
                results = [mismatch] * len(batch)
            for pending, result in zip(batch, results, strict=True):
                if pending.future.done():  # its caller was cancelled meanwhile
                    continue
                if isinstance(result, Exception):
                    pending.future.set_exception(result)
                else:
                    pending.future.set_result(result)
