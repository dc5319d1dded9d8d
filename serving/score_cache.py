"""A bounded cache of stored-mode answers, keyed by everything the answer depends on.

A customer's risk is a pure function of the model that answers, the as-of date, the
language and the customer's rows. The key holds all four -- the rows as the customer's
revision (``serving.ledger_reads.read_customer_revision``: per table the row count and
the newest change, one small query), which every ingest touching the customer changes,
in whichever worker or process it ran -- so a hit needs no ledger rows at all: no read,
no features, no prediction, no reasons. The stored-mode route also skips that query
while nothing at all was committed to the database since the customer's revision was
last read (``serving.ledger_cache``'s database revision; ``serving.answer_cache``).
Entries also expire after ``max_age_seconds`` (the bound on the revision's one race, see
``serving.ledger_reads``). Least recently used entries go first; each worker process has
its own cache, in front of the answers the workers share (``serving.shared_answers``).
"""

from __future__ import annotations

import threading
import time
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class ScoreCache(Generic[Value]):
    """At most ``max_entries`` answers, each for at most ``max_age_seconds`` (None: no
    limit); thread-safe; ``max_entries=0`` caches nothing."""

    def __init__(
        self,
        max_entries: int,
        max_age_seconds: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_age_seconds = max_age_seconds
        self._clock = clock
        self._entries: OrderedDict[Hashable, tuple[float, Value]] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Value | None:
        """The cached answer, or None (never cached, dropped, or older than the limit)."""
        with self._lock:
            entry = self._entries.get(key)
            expired = (
                entry is not None
                and self.max_age_seconds is not None
                and self._clock() - entry[0] > self.max_age_seconds
            )
            if entry is None or expired:
                if expired:
                    del self._entries[key]
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return entry[1]

    def peek(self, key: Hashable) -> Value | None:
        """The cached answer like ``get``, but neither counted nor made more recent."""
        with self._lock:
            entry = self._entries.get(key)
        if entry is None:
            return None
        expired = (
            self.max_age_seconds is not None and self._clock() - entry[0] > self.max_age_seconds
        )
        return None if expired else entry[1]

    def put(self, key: Hashable, value: Value) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used beyond the bound."""
        if self.max_entries <= 0:
            return
        with self._lock:
            self._entries[key] = (self._clock(), value)
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
