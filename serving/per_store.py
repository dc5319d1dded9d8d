"""One object per ledger store, made on first use and dropped with the store.

Keyed by the store object itself (weakly), not by its URL: two stores may share a URL
(tests do), and what is kept (a cache, the worklist's facts) belongs to that store's
engine and lifetime.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Callable
from typing import Generic, TypeVar

from ledger.store import LedgerStore

Kept = TypeVar("Kept")


class PerStore(Generic[Kept]):
    """``get(store)``: the store's object, made by ``make(store)`` the first time; thread-safe."""

    def __init__(self, make: Callable[[LedgerStore], Kept]) -> None:
        self._make = make
        self._kept: weakref.WeakKeyDictionary[LedgerStore, Kept] = weakref.WeakKeyDictionary()
        self._lock = threading.Lock()

    def get(self, store: LedgerStore) -> Kept:
        with self._lock:
            kept = self._kept.get(store)
            if kept is None:
                kept = self._kept[store] = self._make(store)
            return kept
