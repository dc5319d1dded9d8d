"""Opening the ledger database: URL checks and a SQLAlchemy engine with payrisk's settings.

SQLite (the embedded default) and PostgreSQL only; a URL for anything else, or one that
does not parse, is a ``StoreError`` naming it (password masked). The engine connects
lazily. On SQLite it enforces foreign keys, makes DDL and reads transactional, and can
take the write lock at BEGIN (``SQLITE_BEGIN_OPTION``). On PostgreSQL it applies
``ConnectionLimits`` so an unreachable server or a stuck query fails fast.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from ledger.store_errors import StoreError

SUPPORTED_BACKENDS = ("sqlite", "postgresql")

# Seconds before an unreachable PostgreSQL server is reported, unless the URL says otherwise.
_CONNECT_TIMEOUT_SECONDS = 10
# Seconds a request waits for a free pooled connection (SQLAlchemy's default).
_POOL_TIMEOUT_SECONDS = 30.0
# SQLite writers take the write lock at BEGIN: a reader that turns writer mid-transaction
# fails at once with "database is locked" instead of waiting its turn.
SQLITE_BEGIN_OPTION = "payrisk_sqlite_begin"


def masked_url(url: str | sa.URL) -> str:
    """The URL as text with its password replaced by ``***``."""
    parsed = url if isinstance(url, sa.URL) else sa.make_url(url)
    return parsed.render_as_string(hide_password=True)


def parse_url(url: str) -> sa.URL:
    """The URL parsed; ``StoreError`` if it does not parse or names an unsupported backend."""
    try:
        parsed = sa.make_url(url)
    except sa.exc.ArgumentError as error:
        raise StoreError(f"cannot parse database URL {url!r}: {error}") from error
    if parsed.get_backend_name() not in SUPPORTED_BACKENDS:
        raise StoreError(
            f"database URL {masked_url(parsed)} uses {parsed.get_backend_name()!r}; "
            f"payrisk supports {' and '.join(SUPPORTED_BACKENDS)}"
        )
    return parsed


def _sqlite_file(url: sa.URL) -> Path | None:
    """The database file of a SQLite URL; None in memory or for a ``file:`` URI."""
    database = url.database
    if not database or database == ":memory:" or url.query.get("uri"):
        return None
    return Path(database)


def _configure_sqlite(engine: sa.Engine, url: sa.URL) -> None:
    """Hook the engine: create the file's folder, foreign keys on, BEGIN taken over."""
    database_file = _sqlite_file(url)

    @sa.event.listens_for(engine, "do_connect")
    def _create_folder(*_: object) -> None:
        if database_file is not None:
            database_file.parent.mkdir(parents=True, exist_ok=True)

    @sa.event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: object) -> None:
        # sqlite3 leaves foreign keys off, and opens transactions only before DML;
        # taking BEGIN over makes DDL (migrations) and reads transactional too.
        dbapi_connection.execute("PRAGMA foreign_keys=ON")
        dbapi_connection.isolation_level = None

    @sa.event.listens_for(engine, "begin")
    def _on_begin(connection: sa.Connection) -> None:
        mode = connection.get_execution_options().get(SQLITE_BEGIN_OPTION, "DEFERRED")
        connection.exec_driver_sql(f"BEGIN {mode}")


@dataclass(frozen=True)
class ConnectionLimits:
    """How long the store waits on PostgreSQL, in seconds (SQLite ignores these).

    ``connect_timeout_seconds``: to open a connection (whole seconds, at least 1);
    ``statement_timeout_seconds``: per statement, enforced by the server (None: no limit);
    ``pool_timeout_seconds``: for a free pooled connection.
    """

    connect_timeout_seconds: float = _CONNECT_TIMEOUT_SECONDS
    statement_timeout_seconds: float | None = None
    pool_timeout_seconds: float = _POOL_TIMEOUT_SECONDS


def create_store_engine(url: str, limits: ConnectionLimits | None = None) -> sa.Engine:
    """An engine for the ledger database with payrisk's connection settings; connects lazily.

    SQLite: foreign keys enforced, real transactions, the file's folder created on the
    first connection. PostgreSQL: the ``limits`` (a connect timeout so an unreachable server
    fails fast, a server-side statement timeout so a stuck query cannot hold a request
    forever), and a liveness check of each pooled connection before use, so a restarted
    server costs no failed request.
    """
    limits = limits if limits is not None else ConnectionLimits()
    parsed = parse_url(url)
    connect_args: dict[str, Any] = {}
    is_sqlite = parsed.get_backend_name() == "sqlite"
    if not is_sqlite and "connect_timeout" not in parsed.query:
        # libpq takes whole seconds and treats 1 as 2; never 0 (that means "wait forever").
        connect_args["connect_timeout"] = max(1, math.ceil(limits.connect_timeout_seconds))
    if not is_sqlite and limits.statement_timeout_seconds is not None:
        milliseconds = max(1, round(limits.statement_timeout_seconds * 1000))
        connect_args["options"] = f"-c statement_timeout={milliseconds}"
    engine_options: dict[str, Any] = {}
    if not is_sqlite:
        engine_options = {"pool_pre_ping": True, "pool_timeout": limits.pool_timeout_seconds}
    engine = sa.create_engine(parsed, connect_args=connect_args, **engine_options)
    if is_sqlite:
        _configure_sqlite(engine, parsed)
    return engine
