"""The cached-answer path's pieces: a key trusted without I/O only while its cache holds,
and a started app's heap frozen out of the garbage collector's full collections."""

from __future__ import annotations

import gc
from collections.abc import Callable
from pathlib import Path

from fastapi.testclient import TestClient

from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.auth import KeyAuthenticator, create_key, revoke_key


def test_a_key_is_trusted_without_a_query_only_while_its_cache_holds(tmp_path: Path) -> None:
    store = LedgerStore.from_url(f"sqlite:///{tmp_path / 'keys.db'}")
    store.migrate()
    now = [100.0]
    authenticator = KeyAuthenticator(store, cache_seconds=5.0, clock=lambda: now[0])
    created = create_key(store, "erp", ["score"])

    assert authenticator.trusted(created.key) is None  # never looked up: not known good
    assert authenticator.authenticate(created.key) is not None
    revoke_key(store, "erp")
    now[0] = 104.0
    trusted = authenticator.trusted(created.key)
    assert trusted is not None and trusted.scopes == frozenset({"score"})
    assert authenticator.trusted("prk_not-a-key") is None
    now[0] = 105.5  # the cache expired: the revoke takes effect
    assert authenticator.trusted(created.key) is None
    assert authenticator.authenticate(created.key) is None
    store.dispose()


def test_a_started_app_freezes_its_heap(
    service_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> None:
    gc.unfreeze()
    client_for(service_settings())
    try:
        assert gc.get_freeze_count() > 10_000
    finally:
        gc.unfreeze()  # the test process's heap goes back to normal collections
