"""Results computed from the whole ledger, kept until the database changes.

The worklist's customer facts and the KPIs need the whole ledger, and loading it costs
about a second on the demo ledger (400 customers x 3 years). Most requests see the same
ledger as the one before, so each result is kept under the database's **revision**, a
token read (one tiny query) *before* the ledger is read:

- SQLite: ``PRAGMA data_version`` on a connection kept for this purpose; SQLite changes
  it whenever any other connection, of any process, commits a write.
- PostgreSQL: ``pg_current_snapshot()``; it changes whenever a transaction that wrote
  ends (its ``xmax`` follows the newest *finished* transaction: one still writing need
  not move it -- tested), so a commit after the token was read always gives a new one.

Both are conservative: any commit (also to the scores, the API keys, and on PostgreSQL
to any database of the server) is a new revision. A cached result is therefore never
stale, only sometimes recomputed when it did not need to be; entries of an old revision
are dropped. An in-memory SQLite database has no other connection to watch: nothing is
cached there. Each worker process keeps its own entries; callers must not modify them.

Misses are **coalesced** per key: while one computation runs, the requests that arrive
wait and then share the *next* one, which starts after all of them arrived (so each still
sees every write committed before it asked). Under a stream of writes a worker therefore
runs at most one whole-ledger computation per key at a time, instead of one per request.
"""

from __future__ import annotations

import itertools
import sqlite3
import threading
import weakref
from collections import OrderedDict
from collections.abc import Callable, Hashable
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast
from urllib.parse import quote

import sqlalchemy as sa

from ledger.store import LedgerStore, StoreUnavailable
from serving.per_store import PerStore

Value = TypeVar("Value")
MAX_ENTRIES = 16
_uncached = itertools.count()


@dataclass
class _Flights:
    """The computations of one key: numbered in start order, run one at a time."""

    ready: threading.Condition = field(default_factory=threading.Condition)
    started: int = 0  # number of the latest computation started
    finished: int = 0  # number of the latest computation finished
    running: bool = False
    outcome: Any = None  # the latest finished computation's value, or its exception
    failed: bool = False


class LedgerCache:
    """Results of the current revision, by key, for one store; thread-safe.

    A new revision drops every entry of the old one (they can never be used again);
    within a revision at most ``max_entries`` are kept, least recently used dropped first.
    """

    def __init__(self, store: LedgerStore, max_entries: int = MAX_ENTRIES) -> None:
        # weak: the module's registry is keyed by the store, whose value must not keep it
        self._store = weakref.ref(store)
        self.max_entries = max_entries
        self.entries: OrderedDict[Hashable, Any] = OrderedDict()
        self.hits = self.misses = 0
        self._revision: Hashable = None
        self._lock = threading.Lock()
        self._watcher: sqlite3.Connection | None = None  # SQLite: reads data_version
        self._flights: dict[Hashable, _Flights] = {}

    @property
    def store(self) -> LedgerStore:
        store = self._store()
        if store is None:
            raise RuntimeError("the store of this cache is gone")
        return store

    def _sqlite_revision(self) -> Hashable:
        url = self.store.engine.url
        if not url.database or url.database == ":memory:" or url.query.get("uri"):
            return ("uncached", next(_uncached))
        with self._lock:
            if self._watcher is None:
                # its own connection, outside the pool: it never writes, so every commit
                # to the file is "another connection's" and moves data_version
                self._watcher = sqlite3.connect(
                    f"file:{quote(url.database)}?mode=ro", uri=True, check_same_thread=False
                )
                weakref.finalize(self, self._watcher.close)
            row = self._watcher.execute("PRAGMA data_version").fetchone()
        return ("sqlite", row[0])

    def revision(self) -> Hashable:
        """A token that differs after any write committed to the database since the last."""
        try:
            if self.store.dialect_name == "sqlite":
                return self._sqlite_revision()
            with self.store.engine.connect() as connection:
                snapshot = connection.execute(sa.text("select pg_current_snapshot()::text"))
                return ("postgresql", snapshot.scalar_one())
        except sqlite3.Error as error:
            raise StoreUnavailable(f"cannot read {self.store.display_url}: {error}") from error
        except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
            reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
            raise StoreUnavailable(f"cannot read {self.store.display_url}: {reason}") from error

    def get_or_compute(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """The result cached under (revision, ``key``), else a ``compute()`` started after
        this call (shared with the calls that wait for the same one), then kept."""
        cached, value = self._cached(key, self.revision())
        if cached:
            return cast(Value, value)
        with self._lock:
            flights = self._flights.setdefault(key, _Flights())
        with flights.ready:
            needed = flights.started + 1  # any computation numbered >= this started after us
            while flights.finished < needed:
                if not flights.running:
                    flights.running, flights.started = True, flights.started + 1
                    number = flights.started
                    break
                flights.ready.wait()
            else:
                if flights.failed:
                    raise flights.outcome
                return cast(Value, flights.outcome)
        try:
            flights.outcome, flights.failed = self._compute(key, compute), False
        except BaseException as error:
            flights.outcome, flights.failed = error, True
        with flights.ready:
            flights.finished, flights.running = number, False
            flights.ready.notify_all()
        if flights.failed:
            raise flights.outcome
        return cast(Value, flights.outcome)

    def _cached(self, key: Hashable, revision: Hashable) -> tuple[bool, Any]:
        with self._lock:
            if revision != self._revision:
                self.entries.clear()
                self._revision = revision
            if key in self.entries:
                self.entries.move_to_end(key)
                self.hits += 1
                return True, self.entries[key]
            return False, None

    def _compute(self, key: Hashable, compute: Callable[[], Value]) -> Value:
        """``compute()`` kept under the revision read before it reads anything, so a write
        during the computation makes the next call recompute rather than reuse a mixed
        result (and a result another computation just kept is reused)."""
        revision = self.revision()
        cached, value = self._cached(key, revision)
        if cached:
            return cast(Value, value)
        with self._lock:
            self.misses += 1
        value = compute()
        with self._lock:
            if revision == self._revision:  # not when a newer revision came meanwhile
                self.entries[key] = value
                while len(self.entries) > self.max_entries:
                    self.entries.popitem(last=False)
        return value


_CACHES = PerStore(LedgerCache)


def ledger_cache(store: LedgerStore) -> LedgerCache:
    """The cache of ``store`` (one per store object, made on first use)."""
    return _CACHES.get(store)
