"""The ledger in a SQL database: migrate, bulk upsert, load back into DataFrames.

SQLite (the embedded default) and PostgreSQL, through SQLAlchemy Core. Writes are
``INSERT ... ON CONFLICT (key) DO UPDATE`` in one transaction for all four tables, so
an upsert is idempotent by primary key and all-or-nothing. Reads go straight into
columns (no ORM objects) and come back in canonical dtypes, ordered by primary key.
Every operation first checks the schema revision (once per store) and says what to run
when it is behind.

Opening the database (URL checks, the engine and its timeouts) is ``ledger.store_engine``;
the errors are ``ledger.store_errors``. Both are re-exported here, the path callers use.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping, Sequence
from contextlib import contextmanager
from types import TracebackType
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ledger import migrations
from ledger.contract import TABLES, Table
from ledger.db_schema import (
    SQL_TABLES,
    cached_upsert_statement,
    frame_from_rows,
    key_lookup,
    load_select,
    parameter_chunks,
    sql_scalar,
)
from ledger.frames import Ledger, conform
from ledger.store_engine import (
    SQLITE_BEGIN_OPTION,
    ConnectionLimits,
    create_store_engine,
    masked_url,
    parse_url,
)
from ledger.store_errors import SchemaOutOfDate, StoreError, StoreUnavailable

__all__ = [
    "ConnectionLimits",
    "LedgerStore",
    "SchemaOutOfDate",
    "StoreError",
    "StoreUnavailable",
    "create_store_engine",
    "masked_url",
]

# Any constant shared by every payrisk process: serializes concurrent `migrate()` calls.
_MIGRATION_LOCK_KEY = 0x7061_7972_6973_6B  # "payrisk"
# Bound parameters per IN (...) lookup: far below every driver's limit.
_IDS_PER_LOOKUP = 500


def _check_keys(table: Table, frame: pd.DataFrame) -> None:
    """Refuse empty or repeated keys up front, naming them: one upsert cannot hold both rows."""
    keys = frame[table.key]
    if keys.isna().any():
        rows = np.flatnonzero(keys.isna().to_numpy())[:5].tolist()
        raise StoreError(f"{table.name}: empty {table.key} in rows {rows}; nothing was written")
    duplicated = keys[keys.duplicated()].unique()
    if len(duplicated):
        raise StoreError(
            f"{table.name}: {len(duplicated)} duplicate {table.key} values, e.g. "
            f"{list(duplicated[:5])}; nothing was written"
        )


class LedgerStore:
    """The ledger database at one URL. Construction never connects; the engine is lazy."""

    def __init__(self, url: str, limits: ConnectionLimits | None = None) -> None:
        self._url = parse_url(url)
        self._limits = limits
        self._engine: sa.Engine | None = None
        self._schema_is_current = False

    @classmethod
    def from_url(cls, url: str, limits: ConnectionLimits | None = None) -> LedgerStore:
        """A store for a SQLAlchemy URL (``sqlite:///...`` or ``postgresql+psycopg://...``).

        ``limits``: timeouts towards PostgreSQL (the service sets them from its settings).
        """
        return cls(url, limits)

    @property
    def display_url(self) -> str:
        """The database URL with the password masked, for messages and logs."""
        return masked_url(self._url)

    @property
    def dialect_name(self) -> str:
        return self._url.get_backend_name()

    @property
    def engine(self) -> sa.Engine:
        """The SQLAlchemy engine, created on first use."""
        if self._engine is None:
            self._engine = create_store_engine(
                self._url.render_as_string(hide_password=False), self._limits
            )
        return self._engine

    def _unavailable(self, error: Exception) -> StoreUnavailable:
        reason = getattr(error, "orig", None) or error
        return StoreUnavailable(
            f"cannot use the database {self.display_url}: {str(reason).strip()}"
        )

    @contextmanager
    def _transaction(
        self, isolation_level: str | None = None, writes: bool = False
    ) -> Iterator[sa.Connection]:
        """A connection in a transaction: committed on success, rolled back on any error."""
        try:
            connection = self.engine.connect()
        except (sa.exc.DBAPIError, OSError) as error:
            raise self._unavailable(error) from error
        with connection:
            if isolation_level is not None:
                connection.execution_options(isolation_level=isolation_level)
            if writes:
                connection.execution_options(**{SQLITE_BEGIN_OPTION: "IMMEDIATE"})
            try:
                transaction = connection.begin()  # SQLite: waits for, or fails on, a lock
            except sa.exc.OperationalError as error:
                raise self._unavailable(error) from error
            with transaction:
                yield connection

    def _check_schema(self, connection: sa.Connection) -> None:
        if self._schema_is_current:
            return
        revision = migrations.current_revision(connection)
        head = migrations.head_revision()
        if revision == head:
            self._schema_is_current = True
            return
        if revision is None:
            problem = "has no payrisk tables yet"
        elif revision in migrations.known_revisions():
            problem = f"is at schema revision {revision}, this payrisk needs {head}"
        else:
            raise SchemaOutOfDate(
                f"the database {self.display_url} is at schema revision {revision!r}, which "
                f"this version of payrisk does not know (newest: {head}); upgrade payrisk"
            )
        raise SchemaOutOfDate(
            f"the database {self.display_url} {problem}: run `payrisk db upgrade`"
        )

    def revision(self) -> str | None:
        """The database's current schema revision (None before the first migration)."""
        with self._transaction() as connection:
            return migrations.current_revision(connection)

    def migrate(self) -> str:
        """Upgrade the schema to the newest revision (Alembic ``upgrade head``); idempotent.

        Returns the revision the database is at afterwards.
        """
        with self._transaction(writes=True) as connection:
            if self.dialect_name == "postgresql":
                connection.execute(
                    sa.text("select pg_advisory_xact_lock(:key)"), {"key": _MIGRATION_LOCK_KEY}
                )
            revision = migrations.current_revision(connection)
            if revision is not None and revision not in migrations.known_revisions():
                self._check_schema(connection)  # raises: a newer payrisk migrated it
            migrations.upgrade(connection)
        self._schema_is_current = True
        return migrations.head_revision()

    def upsert(self, ledger: Ledger) -> dict[str, int]:
        """Insert or update every row of the ledger by primary key; returns rows per table.

        One transaction for all four tables (in foreign-key order): on any error nothing
        is written. A given row replaces the stored one, missing optional values included.
        """
        frames = {name: conform(table, ledger.table(name)) for name, table in TABLES.items()}
        for name, table in TABLES.items():
            _check_keys(table, frames[name])
        max_parameters = self.engine.dialect.insertmanyvalues_max_parameters
        counts = {}
        with self._transaction(writes=True) as connection:
            self._check_schema(connection)
            for name, table in TABLES.items():
                counts[name] = len(frames[name])
                if frames[name].empty:
                    continue  # nothing to send (a single-row upsert leaves three empty)
                # Rows locked in key order: concurrent upserts of overlapping rows wait for
                # each other instead of deadlocking.
                ordered = frames[name].sort_values(table.key, kind="stable")
                for rows in parameter_chunks(table, ordered, max_parameters):
                    self._write(connection, name, rows)
        return counts

    def upsert_row(
        self,
        table_name: str,
        row: Mapping[str, object],
        references: Sequence[tuple[str, str]] = (),
    ) -> bool:
        """Upsert one row, if every id it refers to is stored; False (nothing written) if not.

        ``row``: column -> canonical Python value (``str``, ``datetime.date``, ``float``,
        ``bool`` or None; absent columns are None), already valid by the ledger's rules.
        ``references``: the (table, id) pairs it refers to. Writes what ``upsert`` writes for
        the same row as a one-row frame, but without frames, and looks the ids up in the
        write's own transaction: an API upsert of one row spends most of its time on
        per-call overhead, and a second connection (a pre-ping on PostgreSQL) is part of it.
        """
        table = TABLES[table_name]
        if row.get(table.key) is None:
            raise StoreError(f"{table_name}: empty {table.key} in rows [0]; nothing was written")
        parameters = {
            name: sql_scalar(table.column(name), row.get(name)) for name in table.column_names
        }
        with self._transaction(writes=True) as connection:
            self._check_schema(connection)
            for target, key in references:
                if connection.execute(key_lookup(target), {"key": key}).first() is None:
                    return False
            self._write(connection, table_name, parameters)
        return True

    def _write(
        self,
        connection: sa.Connection,
        table_name: str,
        rows: list[dict[str, Any]] | dict[str, Any],
    ) -> None:
        """Upsert parameter rows of one table; a ``StoreError`` if the database refuses them."""
        try:
            connection.execute(cached_upsert_statement(table_name, self.dialect_name), rows)
        except (sa.exc.IntegrityError, sa.exc.DataError) as error:
            raise StoreError(
                f"{table_name}: the database refused the rows ({str(error.orig).strip()}); "
                "nothing was written"
            ) from error

    def load(self) -> Ledger:
        """The whole ledger, in canonical dtypes, each table ordered by its primary key."""
        # One snapshot for all four tables, even while an import is writing (SQLite's
        # transaction already holds one).
        snapshot = "REPEATABLE READ" if self.dialect_name == "postgresql" else None
        with self._transaction(snapshot) as connection:
            self._check_schema(connection)
            frames = {
                name: frame_from_rows(
                    table, connection.execute(load_select(table, self.dialect_name)).all()
                )
                for name, table in TABLES.items()
            }
        return Ledger(**frames)

    def existing_ids(self, table_name: str) -> set[str]:
        """The primary keys stored in one ledger table."""
        if table_name not in TABLES:
            raise KeyError(f"unknown ledger table {table_name!r}; known: {list(TABLES)}")
        key_column = SQL_TABLES[table_name].c[TABLES[table_name].key]
        with self._transaction() as connection:
            self._check_schema(connection)
            return set(connection.execute(sa.select(key_column)).scalars())

    def ids_present(self, table_name: str, ids: Collection[str]) -> set[str]:
        """Which of ``ids`` are stored in one ledger table: a lookup by key, not a scan."""
        if table_name not in TABLES:
            raise KeyError(f"unknown ledger table {table_name!r}; known: {list(TABLES)}")
        key_column = SQL_TABLES[table_name].c[TABLES[table_name].key]
        wanted = sorted(set(ids))
        found: set[str] = set()
        with self._transaction() as connection:
            self._check_schema(connection)
            for start in range(0, len(wanted), _IDS_PER_LOOKUP):
                chunk = wanted[start : start + _IDS_PER_LOOKUP]
                query = sa.select(key_column).where(key_column.in_(chunk))
                found.update(connection.execute(query).scalars())
        return found

    def dispose(self) -> None:
        """Close every pooled connection; the store can still be used afterwards."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None

    def __enter__(self) -> LedgerStore:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.dispose()
