"""The cache of whole-ledger results (``serving.ledger_cache``): kept, never stale."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import pandas as pd
import pytest

from ledger.frames import Ledger
from ledger.store import LedgerStore, StoreUnavailable
from serving.ledger_cache import LedgerCache, ledger_cache


def _customers(*ids: str) -> Ledger:
    return Ledger.from_frames(customers=pd.DataFrame({"customer_id": list(ids)}))


@pytest.fixture
def store(database_url: str) -> LedgerStore:
    store = LedgerStore.from_url(database_url)
    store.migrate()
    return store


def test_every_commit_moves_the_revision(store: LedgerStore, database_url: str) -> None:
    cache = LedgerCache(store)
    before = cache.revision()
    store.upsert(_customers("C1"))
    after_own_write = cache.revision()
    other = LedgerStore.from_url(database_url)  # another engine, as another process has
    other.upsert(_customers("C2"))
    other.dispose()
    after_other_write = cache.revision()
    assert len({before, after_own_write, after_other_write}) == 3


def test_reads_keep_the_revision_on_sqlite(sqlite_url: str) -> None:
    store = LedgerStore.from_url(sqlite_url)
    store.migrate()
    cache = LedgerCache(store)
    first = cache.revision()
    store.load()
    assert cache.revision() == first


def test_results_are_computed_once_per_revision(store: LedgerStore) -> None:
    cache = ledger_cache(store)
    assert ledger_cache(store) is cache
    calls: list[int] = []

    def compute() -> int:
        calls.append(1)
        return len(store.load().customers)

    assert cache.get_or_compute("customers", compute) == 0
    store.upsert(_customers("C1", "C2"))
    assert cache.get_or_compute("customers", compute) == 2
    if store.dialect_name == "sqlite":  # PostgreSQL: other tests' writes move it too
        assert cache.get_or_compute("customers", compute) == 2
        assert (len(calls), cache.hits, cache.misses) == (2, 1, 2)
        assert cache.get_or_compute("other key", lambda: -1) == -1
        assert list(cache.entries) == ["customers", "other key"]
        store.upsert(_customers("C3"))
        assert cache.get_or_compute("customers", compute) == 3
        assert list(cache.entries) == ["customers"]  # the old revision's entries are gone


def test_in_memory_sqlite_is_never_cached() -> None:
    store = LedgerStore.from_url("sqlite://")
    cache = LedgerCache(store)
    assert cache.revision() != cache.revision()


def test_a_missing_database_file_is_unavailable(tmp_path: object) -> None:
    store = LedgerStore.from_url(f"sqlite:///{tmp_path}/absent/payrisk.db")
    cache = LedgerCache(store)
    with pytest.raises(StoreUnavailable, match="cannot read"):
        cache.revision()


def test_misses_during_a_computation_share_the_next_one(sqlite_url: str) -> None:
    """Six requests arriving while a computation runs (and after a write) cost one more
    computation, not six, and still see that write."""
    store = LedgerStore.from_url(sqlite_url)
    store.migrate()
    cache = LedgerCache(store)
    first_running, release = threading.Event(), threading.Event()
    calls: list[int] = []

    def compute() -> int | str:
        calls.append(1)
        if len(calls) == 1:
            first_running.set()
            release.wait(30)
            return "before the write"
        return len(store.load().customers)

    with ThreadPoolExecutor(max_workers=7) as pool:
        first = pool.submit(cache.get_or_compute, "customers", compute)
        assert first_running.wait(30)
        store.upsert(_customers("C9"))
        followers = [pool.submit(cache.get_or_compute, "customers", compute) for _ in range(6)]
        waiting = cache._flights["customers"].ready._waiters  # type: ignore[attr-defined]
        deadline = time.monotonic() + 30
        while len(waiting) < 6 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(waiting) == 6
        release.set()
        assert first.result(30) == "before the write"
        assert [follower.result(30) for follower in followers] == [1] * 6
    assert len(calls) == 2


def test_a_failed_computation_fails_its_waiters_and_the_next_call_retries(
    sqlite_url: str,
) -> None:
    store = LedgerStore.from_url(sqlite_url)
    store.migrate()
    cache = LedgerCache(store)
    outcomes = iter([StoreUnavailable("the database went away"), 3])

    def compute() -> int:
        outcome = next(outcomes)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    with pytest.raises(StoreUnavailable, match="went away"):
        cache.get_or_compute("customers", compute)
    assert cache.get_or_compute("customers", compute) == 3
