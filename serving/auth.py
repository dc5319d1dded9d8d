"""API keys: created once and shown once, stored only as a sha256 hash, with scopes.

A key is ``prk_`` + 32 random bytes (URL-safe base64), so a plain sha256 is enough (no
salt or slow hash is needed for a high-entropy secret). The database lookup is by hash;
the found hash is compared again with ``hmac.compare_digest``. ``KeyAuthenticator`` trusts
a good key for ``cache_seconds`` so a request needs no query; a revoke therefore takes
effect within that time. Nothing here logs or returns a key after its creation.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from ledger.db_schema import API_KEYS
from ledger.errors import PayriskError
from ledger.store import LedgerStore, StoreUnavailable

SCOPES = ("score", "ingest", "worklist", "admin")
KEY_PREFIX = "prk_"
MAX_NAME_LENGTH = 100
# Bounds the memory of the positive-answer cache; it is cleared when full.
_CACHE_MAX_ENTRIES = 10_000


class ApiKeyError(PayriskError):
    """A key operation that cannot be done: bad name or scope, no such key."""


@dataclass(frozen=True)
class Caller:
    """Who is calling: the key's id, name and scopes (never the key)."""

    key_id: str
    name: str
    scopes: frozenset[str]


@dataclass(frozen=True)
class ApiKeyInfo:
    """A stored key's public facts."""

    key_id: str
    name: str
    scopes: tuple[str, ...]
    created_at: datetime | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


@dataclass(frozen=True)
class NewApiKey:
    """A key just created: its facts and the key itself, to be shown exactly once."""

    info: ApiKeyInfo
    key: str


def hash_key(key: str) -> str:
    """The sha256 hex digest of a key: what the database stores."""
    return hashlib.sha256(key.encode("utf-8")).hexdigest()


def generate_key() -> str:
    """A new random key (256 bits of entropy)."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


def check_scopes(scopes: Iterable[str]) -> tuple[str, ...]:
    """The scopes, deduplicated and sorted; ``ApiKeyError`` for an unknown or empty set."""
    chosen = tuple(sorted({scope.strip() for scope in scopes}))
    unknown = [scope for scope in chosen if scope not in SCOPES]
    if unknown or not chosen:
        raise ApiKeyError(f"scopes must be among {', '.join(SCOPES)}; got {list(chosen)}")
    return chosen


@contextmanager
def _connection(store: LedgerStore) -> Iterator[sa.Connection]:
    try:
        with store.engine.begin() as connection:
            yield connection
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.ProgrammingError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StoreUnavailable(
            f"cannot use the API keys in {store.display_url}: {reason} "
            "(is the database migrated? `payrisk db upgrade`)"
        ) from error


def _info(row: sa.Row[Any]) -> ApiKeyInfo:
    return ApiKeyInfo(
        key_id=row.key_id,
        name=row.name,
        scopes=tuple(row.scopes.split()),
        created_at=row.created_at,
        revoked_at=row.revoked_at,
    )


def _active_named(connection: sa.Connection, name: str) -> list[ApiKeyInfo]:
    query = sa.select(API_KEYS).where(API_KEYS.c.name == name, API_KEYS.c.revoked_at.is_(None))
    return [_info(row) for row in connection.execute(query)]


def create_key(store: LedgerStore, name: str, scopes: Iterable[str]) -> NewApiKey:
    """Create a key named ``name`` (unique among active keys) with ``scopes``."""
    name = name.strip()
    if not name or len(name) > MAX_NAME_LENGTH:
        raise ApiKeyError(f"a key name must have 1 to {MAX_NAME_LENGTH} characters, got {name!r}")
    chosen = check_scopes(scopes)
    key, key_id = generate_key(), "key_" + uuid.uuid4().hex[:12]
    with _connection(store) as connection:
        if _active_named(connection, name):
            raise ApiKeyError(f"an active key named {name!r} exists; revoke it first")
        connection.execute(
            API_KEYS.insert().values(
                key_id=key_id,
                name=name,
                key_hash=hash_key(key),
                scopes=" ".join(chosen),
                # Set here, not by the server: SQLite's now() has whole seconds only.
                created_at=datetime.now(UTC),
            )
        )
        row = connection.execute(sa.select(API_KEYS).where(API_KEYS.c.key_id == key_id)).one()
    return NewApiKey(info=_info(row), key=key)


def list_keys(store: LedgerStore) -> list[ApiKeyInfo]:
    """Every key, active and revoked, oldest first."""
    query = sa.select(API_KEYS).order_by(API_KEYS.c.created_at, API_KEYS.c.key_id)
    with _connection(store) as connection:
        return [_info(row) for row in connection.execute(query)]


def revoke_key(store: LedgerStore, name_or_id: str) -> ApiKeyInfo:
    """Revoke the active key with this id or name; ``ApiKeyError`` if there is none."""
    table = API_KEYS.c
    with _connection(store) as connection:
        query = sa.select(API_KEYS).where(
            sa.or_(table.key_id == name_or_id, table.name == name_or_id),
            table.revoked_at.is_(None),
        )
        found = [_info(row) for row in connection.execute(query)]
        if not found:
            raise ApiKeyError(f"no active API key with the name or id {name_or_id!r}")
        revoked_at = datetime.now(UTC)
        ids = [info.key_id for info in found]
        connection.execute(
            API_KEYS.update().where(table.key_id.in_(ids)).values(revoked_at=revoked_at)
        )
    first = found[0]
    return ApiKeyInfo(first.key_id, first.name, first.scopes, first.created_at, revoked_at)


def find_caller(store: LedgerStore, key: str) -> Caller | None:
    """The caller an active key belongs to, or None for an unknown or revoked key."""
    digest = hash_key(key)
    query = sa.select(API_KEYS.c.key_id, API_KEYS.c.name, API_KEYS.c.key_hash, API_KEYS.c.scopes)
    query = query.where(API_KEYS.c.key_hash == digest, API_KEYS.c.revoked_at.is_(None))
    with _connection(store) as connection:
        row = connection.execute(query).first()
    if row is None or not hmac.compare_digest(row.key_hash, digest):
        return None
    return Caller(key_id=row.key_id, name=row.name, scopes=frozenset(row.scopes.split()))


class KeyAuthenticator:
    """Checks presented keys against the store; trusts a good key for ``cache_seconds``."""

    def __init__(
        self,
        store: LedgerStore,
        cache_seconds: float = 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._store = store
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[Caller, float]] = {}
        self._lock = threading.Lock()

    def trusted(self, key: str) -> Caller | None:
        """The caller of ``key`` if it was found good less than ``cache_seconds`` ago, else
        None (not known to be good: ask ``authenticate``). No I/O, so the event loop may
        call it; only ``authenticate`` queries the database."""
        digest = hash_key(key)
        with self._lock:
            cached = self._cache.get(digest)
        if cached is not None and cached[1] > self._clock():
            return cached[0]
        return None

    def authenticate(self, key: str) -> Caller | None:
        """The caller of an active key, or None. Unknown keys are never cached."""
        trusted = self.trusted(key)
        if trusted is not None:
            return trusted
        digest = hash_key(key)
        now = self._clock()
        caller = find_caller(self._store, key)
        if caller is not None and self._cache_seconds > 0:
            with self._lock:
                if len(self._cache) >= _CACHE_MAX_ENTRIES:
                    self._cache.clear()
                self._cache[digest] = (caller, now + self._cache_seconds)
        return caller
