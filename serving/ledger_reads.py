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
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass

import sqlalchemy as sa

from ledger.contract import TABLES
from ledger.db_schema import SQL_TABLES, frame_from_rows, load_select
from ledger.frames import Ledger
from ledger.store import LedgerStore, StoreUnavailable

# Bound parameters per IN (...) list: far below every driver's limit.
_IDS_PER_QUERY = 500


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


def _table_rows(
    connection: sa.Connection, dialect_name: str, table_name: str, customer_ids: Sequence[str]
) -> tuple[tuple[object, ...], ...]:
    customer_column = SQL_TABLES[table_name].c["customer_id"]
    select = load_select(TABLES[table_name], dialect_name)
    rows: list[tuple[object, ...]] = []
    for start in range(0, len(customer_ids), _IDS_PER_QUERY):
        chunk = list(customer_ids[start : start + _IDS_PER_QUERY])
        where = customer_column == chunk[0] if len(chunk) == 1 else customer_column.in_(chunk)
        rows += [tuple(row) for row in connection.execute(select.where(where))]
    # by primary key (the first column), whatever order the chunks came back in
    return tuple(sorted(rows, key=lambda row: str(row[0])))


@dataclass(frozen=True)
class CustomerRows:
    """Some customers' rows as fetched (plain tuples per table), before any parsing."""

    tables: dict[str, tuple[tuple[object, ...], ...]]

    @property
    def customer_ids(self) -> set[str]:
        """The customers that exist (have a row in ``customers``)."""
        return {str(row[0]) for row in self.tables["customers"]}

    def fingerprint(self) -> str:
        """A digest of every value: equal digests mean the same history, row for row."""
        return hashlib.blake2b(
            repr(sorted(self.tables.items())).encode(), digest_size=20
        ).hexdigest()

    def ledger(self) -> Ledger:
        """The rows as a ledger in canonical dtypes, each table ordered by primary key."""
        return Ledger(
            **{
                name: frame_from_rows(TABLES[name], list(rows))
                for name, rows in self.tables.items()
            }
        )


def read_customer_rows(store: LedgerStore, customer_ids: Sequence[str]) -> CustomerRows:
    """The rows of ``customer_ids`` in all four tables, in one snapshot (unknown ids: none)."""
    wanted = sorted(set(customer_ids))
    if not wanted:
        return CustomerRows({name: () for name in TABLES})
    with _snapshot(store) as connection:
        tables = {
            name: _table_rows(connection, store.dialect_name, name, wanted) for name in TABLES
        }
    return CustomerRows(tables)


def read_customers(store: LedgerStore, customer_ids: Sequence[str]) -> Ledger:
    """The rows of ``customer_ids`` in all four tables (unknown ids simply have none).

    Tables come back in canonical dtypes ordered by primary key, like ``store.load()``.
    """
    return read_customer_rows(store, customer_ids).ledger()


def read_whole_ledger(store: LedgerStore) -> Ledger:
    """Every row of the ledger (the refresh scores all open invoices at once)."""
    return store.load()
