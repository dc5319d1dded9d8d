"""The ledger's SQL tables (SQLAlchemy Core), built from the column contract.

Each contract column becomes a SQL column of its kind's type; required columns are
NOT NULL. Every table also carries ``created_at`` / ``updated_at`` server timestamps,
which are bookkeeping, not ledger data: ``LedgerStore.load()`` never returns them.

This module describes the *current* schema and how frames map onto it (statements,
parameter conversion, parsing of fetched rows); ``ledger.store`` owns connections and
transactions. The database gets to this schema through the Alembic revisions in
``ledger/migrations/versions/`` (frozen copies, one per change); a test checks that a
migrated database matches this metadata exactly.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from functools import cache
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from ledger.contract import TABLES, Column, Table
from ledger.frames import conform

# Alembic's bookkeeping table. Not the default name, so a database shared with the
# MLflow tracking store (which keeps its own ``alembic_version``) never collides.
VERSION_TABLE = "payrisk_alembic_version"

# Deterministic constraint names: later revisions (and SQLite batch mode) refer to them.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

AMOUNT_SCALE = 2
"""Decimal places stored for amounts (cents); ``Numeric(18, 2)``."""

BOOKKEEPING_COLUMNS = ("created_at", "updated_at")

# (table, column) -> "referred_table.referred_column"
FOREIGN_KEYS: dict[tuple[str, str], str] = {
    ("invoices", "customer_id"): "customers.customer_id",
    ("payments", "customer_id"): "customers.customer_id",
    ("payments", "invoice_id"): "invoices.invoice_id",
    ("activities", "customer_id"): "customers.customer_id",
    ("activities", "invoice_id"): "invoices.invoice_id",
}

# table -> indexed column tuples: what features, imports and the API look rows up by.
INDEXES: dict[str, tuple[tuple[str, ...], ...]] = {
    "invoices": (("customer_id",), ("paid_date",)),
    "payments": (("customer_id", "payment_date"), ("invoice_id",)),
    "activities": (("customer_id", "date"), ("invoice_id",)),
}

_SQL_TYPES: dict[str, sa.types.TypeEngine[Any]] = {
    "id": sa.String(),
    "text": sa.Text(),
    "date": sa.Date(),
    "amount": sa.Numeric(18, AMOUNT_SCALE),
    "flag": sa.Boolean(),
}

metadata = sa.MetaData(naming_convention=NAMING_CONVENTION)


def sql_type(column: Column) -> sa.types.TypeEngine[Any]:
    """The SQL type that stores a contract column of this kind."""
    return _SQL_TYPES[column.kind]


def _sql_column(table: Table, column: Column) -> sa.Column[Any]:
    is_key = column.name == table.key
    foreign_key = FOREIGN_KEYS.get((table.name, column.name))
    extra = (sa.ForeignKey(foreign_key),) if foreign_key else ()
    return sa.Column(
        column.name,
        sql_type(column),
        *extra,
        primary_key=is_key,
        nullable=not (is_key or column.required),
    )


def _bookkeeping_columns() -> list[sa.Column[Any]]:
    return [
        sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        for name in BOOKKEEPING_COLUMNS
    ]


def _sql_table(table: Table) -> sa.Table:
    indexes = [sa.Index(None, *columns) for columns in INDEXES.get(table.name, ())]
    # "which rows changed since t" (serving.ledger_changes) reads by updated_at
    indexes.append(sa.Index(None, "updated_at"))
    return sa.Table(
        table.name,
        metadata,
        *(_sql_column(table, column) for column in table.columns),
        *_bookkeeping_columns(),
        *indexes,
    )


SQL_TABLES: dict[str, sa.Table] = {name: _sql_table(table) for name, table in TABLES.items()}
"""Ledger table name -> its SQLAlchemy ``Table``, in foreign-key order."""

ACTIVITY_AUTHOR_COLUMN = "created_by"
# Bookkeeping like created_at (migration 0004): the API key's name that logged an activity
# (empty for imported rows); not ledger data, so ``load()`` never returns it.
SQL_TABLES["activities"].append_column(sa.Column(ACTIVITY_AUTHOR_COLUMN, sa.Text(), nullable=True))

API_KEYS = sa.Table(
    "api_keys",
    metadata,
    sa.Column("key_id", sa.String(), primary_key=True),
    sa.Column("name", sa.Text(), nullable=False),
    # sha256 hex of the key: the key itself is shown once and never stored.
    sa.Column("key_hash", sa.String(64), nullable=False, unique=True),
    sa.Column("scopes", sa.Text(), nullable=False),  # space-separated, sorted
    sa.Column(
        "created_at", sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now()
    ),
    sa.Column("revoked_at", sa.DateTime(timezone=True), nullable=True),
    sa.Index(None, "name"),
)
"""The service's API keys (``serving.auth``): not ledger data, never in a ``Ledger``."""

SCORES = sa.Table(
    "scores",
    metadata,
    sa.Column("score_id", sa.String(), primary_key=True),
    # One refresh writes all its rows with the same scored_at: "the latest scores" are
    # the rows at the newest scored_at.
    sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("model_name", sa.Text(), nullable=False),
    sa.Column("model_version", sa.String(), nullable=False),
    sa.Column("as_of", sa.Date(), nullable=False),
    # No foreign keys: scores are a log, kept even if the ledger rows are replaced.
    sa.Column("invoice_id", sa.String(), nullable=False),
    sa.Column("customer_id", sa.String(), nullable=False),
    sa.Column("open_amount", sa.Numeric(18, AMOUNT_SCALE), nullable=False),
    sa.Column("currency", sa.Text(), nullable=True),
    # {"on_time": 0.61, "late_1_30": 0.2, ...}: the labels follow the configured buckets.
    sa.Column("bucket_probabilities", sa.JSON(), nullable=False),
    sa.Column("p_late", sa.Float(), nullable=False),
    sa.Column("p_over_30", sa.Float(), nullable=False),
    sa.Column("expected_days_late", sa.Float(), nullable=False),
    sa.Column("predicted_payment_date", sa.Date(), nullable=False),
    # {"method": "path", "en": [{feature, value, contribution, direction, text}, ...], "he": [...]}
    sa.Column("reasons", sa.JSON(), nullable=False),
    sa.Index(None, "customer_id", "scored_at"),
    sa.Index(None, "scored_at"),
)
"""Stored scores of open invoices (``POST /v1/scores:refresh``; the worklist reads them)."""

AUDIT_LOG = sa.Table(
    "audit_log",
    metadata,
    sa.Column("audit_id", sa.String(), primary_key=True),
    sa.Column("at", sa.DateTime(timezone=True), nullable=False),
    # The API key's name (API) or the OS user (CLI); actor_kind says which.
    sa.Column("actor", sa.Text(), nullable=False),
    sa.Column("actor_kind", sa.String(16), nullable=False),
    sa.Column("action", sa.String(64), nullable=False),  # e.g. key.create, model.promote
    sa.Column("target", sa.Text(), nullable=True),  # the key's name, the model version...
    sa.Column("outcome", sa.String(16), nullable=False),  # ok, refused or failed
    sa.Column("detail", sa.JSON(), nullable=True),
    sa.Index(None, "at"),
)
"""Admin actions, who did them and how they ended (``ledger.audit_store``); append only."""


def sql_values(column: Column, values: pd.Series) -> np.ndarray:
    """One column as Python objects the drivers take: None for missing, ``date`` for dates."""
    if column.kind == "date":
        return values.to_numpy(dtype="datetime64[D]").astype(object)
    if column.kind == "amount":
        # Rounded here so SQLite stores what PostgreSQL's NUMERIC(18, 2) would.
        cents = np.round(values.to_numpy(dtype="float64"), AMOUNT_SCALE)
        return pd.Series(cents).to_numpy(dtype=object, na_value=None)
    return values.to_numpy(dtype=object, na_value=None)


def parameter_chunks(
    table: Table, frame: pd.DataFrame, max_parameters: int
) -> Iterator[list[dict[str, Any]]]:
    """The frame as executemany parameter lists, each under ``max_parameters`` bound values."""
    names = table.column_names
    columns = [sql_values(table.column(name), frame[name]) for name in names]
    rows_per_chunk = max(1, max_parameters // len(names))
    for start in range(0, len(frame), rows_per_chunk):
        chunk = [column[start : start + rows_per_chunk] for column in columns]
        yield [dict(zip(names, values, strict=True)) for values in zip(*chunk, strict=True)]


def upsert_statement(table: Table, dialect_name: str) -> sa.Insert:
    """``INSERT ... ON CONFLICT (key) DO UPDATE`` of every contract column of the table."""
    sql_table = SQL_TABLES[table.name]
    insert = sqlite.insert if dialect_name == "sqlite" else postgresql.insert
    statement = insert(sql_table)
    data_columns = [name for name in table.column_names if name != table.key]
    changed = sa.or_(
        *(sql_table.c[name].is_distinct_from(statement.excluded[name]) for name in data_columns)
    )
    # Rows whose values are unchanged are left alone, so updated_at means "last changed".
    return statement.on_conflict_do_update(
        index_elements=[table.key],
        set_={
            **{name: statement.excluded[name] for name in data_columns},
            "updated_at": sa.func.now(),
        },
        where=changed,
    )


@cache
def cached_upsert_statement(table_name: str, dialect_name: str) -> sa.Insert:
    """``upsert_statement``, built once per table and dialect: building it costs more than
    running a one-row upsert."""
    return upsert_statement(TABLES[table_name], dialect_name)


@cache
def key_lookup(table_name: str) -> sa.Select[Any]:
    """``select key from table where key = :key``, built once per table."""
    key_column = SQL_TABLES[table_name].c[TABLES[table_name].key]
    return sa.select(key_column).where(key_column == sa.bindparam("key"))


def sql_scalar(column: Column, value: Any) -> Any:
    """One canonical Python value as ``sql_values`` sends it: amounts rounded alike."""
    if value is None or column.kind != "amount":
        return value
    return float(np.round(value, AMOUNT_SCALE))


def load_select(table: Table, dialect_name: str) -> sa.Select[Any]:
    """Reads a table with amounts as floats and dates as ISO text, for vectorized parsing."""
    sql_table = SQL_TABLES[table.name]
    selected = []
    for column in table.columns:
        expression: sa.ColumnElement[Any] = sql_table.c[column.name]
        if column.kind == "amount":
            expression = sa.cast(expression, sa.Float)
        elif column.kind == "date" and dialect_name == "sqlite":
            expression = sa.type_coerce(expression, sa.String)  # stored as 'YYYY-MM-DD'
        elif column.kind == "date":
            expression = sa.func.to_char(expression, "YYYY-MM-DD")
        selected.append(expression.label(column.name))
    return sa.select(*selected).order_by(sql_table.c[table.key])


def _parsed_column(column: Column, values: Sequence[Any]) -> pd.Series:
    objects = np.array(values, dtype=object)
    if column.kind == "date":
        return pd.Series(pd.to_datetime(objects, format="%Y-%m-%d"))
    if column.kind == "amount":
        return pd.Series(objects.astype("float64"))  # None -> NaN
    return pd.Series(objects)


def frame_from_rows(table: Table, rows: Sequence[Any]) -> pd.DataFrame:
    """Rows fetched with ``load_select`` as a canonical frame ordered by primary key."""
    # Transposing in C and parsing whole columns is far faster than building from records.
    columns = list(zip(*rows, strict=True)) if rows else [()] * len(table.columns)
    raw = pd.DataFrame(
        {
            column.name: _parsed_column(column, values)
            for column, values in zip(table.columns, columns, strict=True)
        }
    )
    frame = conform(table, raw)
    # PostgreSQL may order text by a locale collation; the contract order is code points.
    if not frame[table.key].is_monotonic_increasing:
        frame = frame.sort_values(table.key, kind="stable", ignore_index=True)
    return frame
