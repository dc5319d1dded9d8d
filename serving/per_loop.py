"""One object per running event loop, made on first use and dropped with the loop.

What belongs to a loop (an ``asyncio.Semaphore``, a batcher's futures) must not be used
from another. A worker process runs one loop; tests may call one app from several (a
``TestClient`` used without ``with`` runs each request on a loop of its own).
"""

from __future__ import annotations

import asyncio
import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

Kept = TypeVar("Kept")


class PerLoop(Generic[Kept]):
    """``get()``: the running loop's object, made by ``make()`` the first time."""

    def __init__(self, make: Callable[[], Kept]) -> None:
        self._make = make
        self._kept: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, Kept] = (
            weakref.WeakKeyDictionary()
        )
        self._lock = threading.Lock()  # loops of other threads may ask at the same time

    def get(self) -> Kept:
        loop = asyncio.get_running_loop()
        with self._lock:
            kept = self._kept.get(loop)
            if kept is None:
                kept = self._kept[loop] = self._make()
            return kept
