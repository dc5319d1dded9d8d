"""Reading the ledger for scoring: some customers' rows by indexed queries, or all of it.

Stored-mode scoring needs one customer's history, not the whole ledger: each of the four
tables is read ``WHERE customer_id IN (...)`` (indexed: the customers' primary key,
``ix_invoices_customer_id``, ``ix_payments_customer_id_payment_date``,
``ix_activities_customer_id_date``), in one transaction (one snapshot on PostgreSQL), so
a request costs a few index lookups whatever the size of the ledger.

A customer's slice holds the payments *the customer* made. A payment recorded under
another customer but applied to this customer's invoice is not in it (the whole-ledger
refresh would see it); the ledger's own rules do not forbid that, real ledgers rarely
have it.

A customer's **revision** (``read_customer_revision``) is one small query over its rows in
the four tables. Rows are never deleted, so it only has to change whenever a committed
write inserts or changes one of them; it is ``settled`` (fit to key a cache) when no
write still to commit can leave it unchanged:

- PostgreSQL: per table the number of the customer's rows and the XOR of a 64-bit hash of
  each row's key and ``xmin`` (the transaction that wrote its current version). A commit
  gives every row it inserts or changes its own, new ``xmin``, so the revision changes
  with the commit, whenever that transaction began: exact, and settled at once. (The
  newest ``updated_at`` was the first design: it carries the writing transaction's
  *start* time, so a revision was only settled once every transaction that began
  before its newest change had ended -- read-only ones included, since no query can
  tell which open transaction will still write. Under ``make soak`` the pages' long
  reads held most fresh revisions unsettled for hundreds of ms, and two thirds of the
  scoring misses were answers that could not be cached or warmed meanwhile.)
- SQLite: per table the number of rows and their newest ``updated_at``, with the
  database's clock, which counts whole seconds; settled when the newest change is
  ``SETTLE_SECONDS`` old, so no later write shares its clock tick. The answer cache
  also bounds the age of its entries (``serving.score_cache``), which bounds the one
  race left there (an ingest transaction held open longer than that while another
  changes the same customer).
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, cast

import numpy as np
import pandas as pd
import pyarrow as pa
import sqlalchemy as sa

from ledger.contract import TABLES, Column, Table
from ledger.db_schema import SQL_TABLES, load_select
from ledger.frames import Ledger, dtype_of
from ledger.store import LedgerStore, StoreUnavailable

# Bound parameters per IN (...) list: far below every driver's limit.
_IDS_PER_QUERY = 500
# A revision younger than this (database clock) may still change within its clock tick.
SETTLE_SECONDS = 2.0


@contextmanager
def _snapshot(store: LedgerStore) -> Iterator[sa.Connection]:
    """A read transaction that sees one snapshot of every table (PostgreSQL: REPEATABLE READ)."""
    options = {"isolation_level": "REPEATABLE READ"} if store.dialect_name == "postgresql" else {}
    try:
        with store.engine.connect() as connection:
            connection.execution_options(**options)
            with connection.begin():
                yield connection
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.ProgrammingError) as error:
        # ProgrammingError: the tables are missing (a database never migrated).
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StoreUnavailable(
            f"cannot read the ledger from {store.display_url}: {reason}"
        ) from error


@functools.cache
def _customers_select(table_name: str, dialect_name: str, one: bool) -> sa.Select[Any]:
    """``load_select`` of a table for the bound ``customer_ids`` (``one``: a single id,
    bound as ``customer_id``), built once: a request only binds its ids."""
    customer_column = SQL_TABLES[table_name].c["customer_id"]
    where = (
        customer_column == sa.bindparam("customer_id")
        if one
        else customer_column.in_(sa.bindparam("customer_ids", expanding=True))
    )
    return load_select(TABLES[table_name], dialect_name).where(where)


def _table_rows(
    connection: sa.Connection, dialect_name: str, table_name: str, customer_ids: Sequence[str]
) -> tuple[tuple[object, ...], ...]:
    rows: list[tuple[object, ...]] = []
    for start in range(0, len(customer_ids), _IDS_PER_QUERY):
        chunk = list(customer_ids[start : start + _IDS_PER_QUERY])
        one = len(chunk) == 1
        params = {"customer_id": chunk[0]} if one else {"customer_ids": chunk}
        select = _customers_select(table_name, dialect_name, one)
        rows += [tuple(row) for row in connection.execute(select, params)]
    # by primary key (the first column), whatever order the chunks came back in
    return tuple(sorted(rows, key=lambda row: str(row[0])))


@dataclass(frozen=True)
class CustomerRows:
    """Some customers' rows as fetched (plain tuples per table), before any parsing."""

    tables: dict[str, tuple[tuple[object, ...], ...]]

    def ledger(self) -> Ledger:
        """The rows as a ledger in canonical dtypes, each table ordered by primary key."""
        return Ledger(
            **{name: typed_frame(TABLES[name], rows) for name, rows in self.tables.items()}
        )


def _typed_column(column: Column, values: Sequence[object]) -> Any:
    if column.kind == "date":  # fetched as 'YYYY-MM-DD' text (``load_select``) or None
        return np.array(values, dtype="datetime64[D]").astype("datetime64[ns]")
    if column.kind == "amount":
        return np.array(values, dtype="float64")  # None -> NaN
    if column.kind == "flag":  # the masked array pd.array(..., "boolean") builds, directly
        missing = np.array([value is None for value in values], dtype=bool)
        flags = np.array([value is not None and bool(value) for value in values], dtype=bool)
        return pd.arrays.BooleanArray(flags, missing)
    if dtype_of(column) == "string":
        return _string_array(values)
    return pd.array(list(values), dtype=dtype_of(column))


def _string_array(values: Sequence[object]) -> Any:
    """``pd.array(values, dtype="string")``, ~5x faster for text fetched as str or None:
    pyarrow builds the array without pandas' per-value checks. Anything else (a number
    from a loosely typed column) takes pandas' way, which converts it as before."""
    dtype = pd.StringDtype()
    if dtype.storage == "pyarrow":  # the default with pyarrow installed
        try:
            return pd.arrays.ArrowStringArray(pa.array(values, type=pa.large_string()))
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            pass
    return pd.array(list(values), dtype=dtype)


def typed_frame(table: Table, rows: Sequence[Sequence[object]]) -> pd.DataFrame:
    """A few fetched rows (``load_select``'s columns) as a frame in canonical dtypes.

    The same frame as ``ledger.db_schema.frame_from_rows`` (tested), built column by
    column without its generic parsing and conforming: ~1 ms instead of ~15 ms for one
    customer's four tables, which matters on the per-request path.
    """
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(table.columns)
    frame = pd.DataFrame(
        {
            column.name: _typed_column(column, values)
            for column, values in zip(table.columns, columns, strict=True)
        }
    )
    keys = columns[[column.name for column in table.columns].index(table.key)]
    if not (_in_order(keys) or frame[table.key].is_monotonic_increasing):
        frame = frame.sort_values(table.key, kind="stable", ignore_index=True)
    return frame


def _in_order(keys: Sequence[object]) -> bool:
    """Whether text keys are already in ascending order (pandas orders text the same way):
    a check that skips building an index for the few rows of a request."""
    texts = [key for key in keys if isinstance(key, str)]
    return len(texts) == len(keys) and all(a <= b for a, b in itertools.pairwise(texts))


read_snapshot = _snapshot  # public: ``serving.worklist_facts`` reads several things in one


def customer_rows_in(
    connection: sa.Connection, dialect_name: str, customer_ids: Sequence[str]
) -> CustomerRows:
    """The rows of ``customer_ids`` in all four tables, read on ``connection`` (its snapshot)."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return CustomerRows({name: () for name in TABLES})
    return CustomerRows(
        {name: _table_rows(connection, dialect_name, name, wanted) for name in TABLES}
    )


def all_rows_in(connection: sa.Connection, dialect_name: str) -> CustomerRows:
    """Every row of the four tables, read on ``connection`` (its snapshot)."""
    return CustomerRows(
        {
            name: tuple(tuple(row) for row in connection.execute(load_select(table, dialect_name)))
            for name, table in TABLES.items()
        }
    )


def read_customer_rows(store: LedgerStore, customer_ids: Sequence[str]) -> CustomerRows:
    """The rows of ``customer_ids`` in all four tables, in one snapshot (unknown ids: none)."""
    with _snapshot(store) as connection:
        return customer_rows_in(connection, store.dialect_name, customer_ids)


def read_customers(store: LedgerStore, customer_ids: Sequence[str]) -> Ledger:
    """The rows of ``customer_ids`` in all four tables (unknown ids simply have none).

    Tables come back in canonical dtypes ordered by primary key, like ``store.load()``.
    """
    return read_customer_rows(store, customer_ids).ledger()


def read_whole_ledger(store: LedgerStore) -> Ledger:
    """Every row of the ledger (the refresh scores all open invoices at once)."""
    return store.load()


@dataclass(frozen=True)
class CustomerRevision:
    """Per table (in ``TABLES`` order) the customer's row count and a token of their
    versions (module doc). ``exists``: the customer has a row in ``customers``;
    ``settled``: no write still to commit can leave the revision unchanged."""

    tables: tuple[tuple[int, str | None], ...]
    exists: bool
    settled: bool


@functools.cache
def _revision_select(dialect_name: str) -> sa.Select[Any]:
    """The revision query for the bound ``customer_id``, built once (not per request)."""
    customer_id = sa.bindparam("customer_id", type_=sa.String())
    parts: list[Any] = []
    for name in TABLES:
        table = SQL_TABLES[name]
        mine = table.c["customer_id"] == customer_id
        parts.append(sa.select(sa.func.count()).select_from(table).where(mine).scalar_subquery())
        parts.append(sa.select(_versions_token(table, dialect_name)).where(mine).scalar_subquery())
    if dialect_name != "postgresql":  # the clock: whole seconds on SQLite
        parts.append(sa.func.now())
    return cast("sa.Select[Any]", sa.select(*parts))


def _versions_token(table: sa.Table, dialect_name: str) -> Any:
    """What changes with any committed change of the table's selected rows (module doc)."""
    if dialect_name != "postgresql":
        return sa.func.max(table.c["updated_at"])
    key = table.c[TABLES[table.name].key]
    version: sa.ColumnElement[str] = sa.literal_column(f"{table.name}.xmin::text", sa.Text)
    return sa.func.bit_xor(sa.func.hashtextextended(key + ":" + version, 0))


def _execute_revision(connection: sa.Connection, customer_id: str) -> CustomerRevision:
    statement = _revision_select(connection.dialect.name)
    row = connection.execute(statement, {"customer_id": customer_id}).one()
    if connection.dialect.name == "postgresql":
        return _revision_of(tuple(row), settled=True)
    *tables, now = tuple(row)
    return _revision_of(tuple(tables), settled=_clock_settled(tables, now))


def _as_moment(value: object) -> datetime | None:
    """A fetched timestamp (naive from SQLite), else None."""
    return value if isinstance(value, datetime) else None


def _clock_settled(values: Sequence[object], now: object) -> bool:
    """Whether every newest change in (count, newest change) pairs is ``SETTLE_SECONDS`` old."""
    moment_now = _as_moment(now)
    if moment_now is None:
        return False
    newest = [_as_moment(values[i + 1]) for i in range(0, len(values), 2)]
    settle = timedelta(seconds=SETTLE_SECONDS)
    return all(moment_now - moment >= settle for moment in newest if moment is not None)


def _revision_of(values: tuple[object, ...], *, settled: bool) -> CustomerRevision:
    """(count, token) per table, flat, as the revision query returns them."""
    tables = tuple(
        (int(cast(int, values[i] or 0)), None if values[i + 1] is None else str(values[i + 1]))
        for i in range(0, len(values), 2)
    )
    return CustomerRevision(tables=tables, exists=tables[0][0] > 0, settled=settled)


def read_customer_revision(store: LedgerStore, customer_id: str) -> CustomerRevision:
    """The customer's revision (module doc): one query, whatever the size of its history."""
    with _snapshot(store) as connection:
        return _execute_revision(connection, customer_id)


def read_customer_revisions(
    store: LedgerStore, customer_ids: Sequence[str]
) -> dict[str, CustomerRevision]:
    """Several customers' revisions, read in one snapshot: one grouped query per table
    (per ``_IDS_PER_QUERY`` ids), each equal to what ``read_customer_revision`` reads."""
    ids = list(dict.fromkeys(customer_ids))
    dialect_name = store.dialect_name
    found: dict[str, dict[str, tuple[object, object]]] = {name: {} for name in TABLES}
    with _snapshot(store) as connection:
        for start in range(0, len(ids), _IDS_PER_QUERY):
            chunk = {"customer_ids": ids[start : start + _IDS_PER_QUERY]}
            for name in TABLES:
                rows = connection.execute(_revisions_select(name, dialect_name), chunk)
                found[name].update((str(row[0]), (row[1], row[2])) for row in rows)
        clock = None
        if dialect_name != "postgresql" and ids:
            clock = connection.execute(sa.select(sa.func.now())).scalar_one()
    revisions = {}
    for customer_id in ids:
        values = tuple(v for name in TABLES for v in found[name].get(customer_id, (0, None)))
        settled = dialect_name == "postgresql" or _clock_settled(values, clock)
        revisions[customer_id] = _revision_of(values, settled=settled)
    return revisions


@functools.cache
def _revisions_select(table_name: str, dialect_name: str) -> sa.Select[Any]:
    """Per customer of the bound ``customer_ids`` with rows in the table: its id, row
    count and versions token (``_revision_select``'s two values), built once."""
    table = SQL_TABLES[table_name]
    customer_id = table.c["customer_id"]
    return (
        sa.select(customer_id, sa.func.count(), _versions_token(table, dialect_name))
        .where(customer_id.in_(sa.bindparam("customer_ids", expanding=True)))
        .group_by(customer_id)
    )
