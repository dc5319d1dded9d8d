"""Which ledger rows changed since a moment: the reads behind incrementally kept results.

Every ledger table carries a server ``updated_at`` set by each insert and by each upsert
that changes a value (``ledger.db_schema.upsert_statement``); rows are never deleted by
payrisk. A result computed from a snapshot can therefore be brought up to date by
re-reading the rows whose ``updated_at`` is at or after a **watermark**, provided that
every write the snapshot did not see carries an ``updated_at`` at or after it.

The watermark is read (``read_watermark``) *before* the snapshot is taken:

- PostgreSQL: ``updated_at`` is the writing transaction's start time (``now()``). A write
  the snapshot misses comes from a transaction still open when the snapshot was taken:
  either it was already open when the watermark was read -- then it is listed in
  ``pg_stat_activity`` with that very start time (``xact_start``), and the watermark is
  the oldest such start -- or it started later, after the watermark. The bound is exact
  however long a transaction stays open (a bulk import of minutes included). Sessions
  of other roles whose ``xact_start`` the service may not see (no ``pg_read_all_stats``)
  make it fall back to ``HIDDEN_SESSION_OVERLAP_SECONDS`` before now.
- SQLite: no view of open transactions, and ``CURRENT_TIMESTAMP`` counts whole seconds;
  the watermark is ``SQLITE_OVERLAP_SECONDS`` before the database's clock, which covers
  the service's own write transactions (one request each, bounded by the busy timeout);
  a longer writer (a CLI import held open for minutes) is what the periodic full
  recompute of the callers is for.

``table_counts`` lets a caller notice rows that disappeared (deleted by hand): it knows
how many rows it holds, and a different count means "recompute everything".
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import sqlalchemy as sa

from ledger.contract import TABLES
from ledger.db_schema import SQL_TABLES

SQLITE_OVERLAP_SECONDS = 60
HIDDEN_SESSION_OVERLAP_SECONDS = 600
# The columns that say whose a row is: its key, its customer and the invoice it names.
_OWNER_COLUMNS = {
    "customers": ("customer_id",),
    "invoices": ("invoice_id", "customer_id"),
    "payments": ("payment_id", "customer_id", "invoice_id"),
    "activities": ("activity_id", "customer_id", "invoice_id"),
}

# The oldest start among the open transactions of this database (its own included), or
# now(); HIDDEN_SESSION_OVERLAP_SECONDS before now when a session's start is hidden.
POSTGRES_WATERMARK_SQL = f"""
    select least(
        now(),
        (select min(xact_start) from pg_stat_activity
          where datname = current_database() and backend_type = 'client backend'),
        case when exists (
            select 1 from pg_stat_activity
             where datname = current_database() and backend_type = 'client backend'
               and state is null)
        then now() - make_interval(secs => {HIDDEN_SESSION_OVERLAP_SECONDS}) end)
"""
_POSTGRES_WATERMARK = sa.text(POSTGRES_WATERMARK_SQL)


@dataclass(frozen=True)
class Watermark:
    """A moment in the database's own clock and type (aware datetime, or SQLite text)."""

    value: Any


def read_watermark(connection: sa.Connection, dialect_name: str) -> Watermark:
    """The moment from which writes not yet visible can carry ``updated_at`` (module doc).

    Call it on its own connection or transaction *before* opening the snapshot it guards.
    """
    if dialect_name == "postgresql":
        row = connection.execute(_POSTGRES_WATERMARK)
        return Watermark(row.scalar_one())
    # CURRENT_TIMESTAMP's text form ('YYYY-MM-DD HH:MM:SS'), as updated_at is stored
    moment = connection.execute(
        sa.text("select datetime('now', :overlap)"),
        {"overlap": f"-{SQLITE_OVERLAP_SECONDS} seconds"},
    )
    return Watermark(moment.scalar_one())


def _since(table: sa.Table, dialect_name: str, watermark: Watermark) -> sa.ColumnElement[bool]:
    if dialect_name == "sqlite":  # compare as stored text: no driver conversion
        updated = sa.type_coerce(table.c["updated_at"], sa.String())
        return updated >= sa.bindparam("since", watermark.value, type_=sa.String())
    return table.c["updated_at"] >= watermark.value


def changed_owners(
    connection: sa.Connection, dialect_name: str, watermark: Watermark
) -> dict[str, pd.DataFrame]:
    """Per ledger table, the key, customer and invoice of rows updated at/after ``watermark``."""
    changed = {}
    for name, columns in _OWNER_COLUMNS.items():
        table = SQL_TABLES[name]
        select = sa.select(*(table.c[column] for column in columns))
        rows = connection.execute(select.where(_since(table, dialect_name, watermark))).all()
        changed[name] = pd.DataFrame([tuple(row) for row in rows], columns=list(columns))
    return changed


def table_counts(connection: sa.Connection) -> dict[str, int]:
    """Rows per ledger table, in the connection's snapshot."""
    return {
        name: int(
            connection.execute(
                sa.select(sa.func.count()).select_from(SQL_TABLES[name])
            ).scalar_one()
        )
        for name in TABLES
    }
