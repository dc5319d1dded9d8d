"""A bounded cache of stored-mode answers, keyed by everything the answer depends on.

A customer's risk is a pure function of the model that answers, the as-of date, the
language and the customer's rows. The key holds all four -- the rows as a digest of every
fetched value (``serving.ledger_reads.CustomerRows.fingerprint``) -- so a change to any
row of the customer is a different key: nothing is ever stale and nothing needs to be
invalidated. A request still reads the customer's rows (a few index lookups); a hit skips
the features, the prediction and SHAP. Least recently used entries go first; each worker
process has its own cache.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Hashable
from typing import Generic, TypeVar

Value = TypeVar("Value")


class ScoreCache(Generic[Value]):
    """At most ``max_entries`` answers; thread-safe; ``max_entries=0`` caches nothing."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Value] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: Hashable) -> Value | None:
        """The cached answer, or None."""
        with self._lock:
            value = self._entries.get(key)
            if value is None:
                self.misses += 1
                return None
            self._entries.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: Hashable, value: Value) -> None:
        """Keep ``value`` under ``key``, dropping the least recently used beyond the bound."""
        if self.max_entries <= 0:
            return
        with self._lock:
            self._entries[key] = value
            self._entries.move_to_end(key)
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)

    def __len__(self) -> int:
        return len(self._entries)
