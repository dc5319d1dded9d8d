"""Alembic environment for the ledger database.

Called two ways: from ``ledger.migrations`` (``payrisk db upgrade``, ``LedgerStore``) with
an open connection in ``config.attributes["connection"]``; or by a developer's ``alembic``
command at the repository root, where the URL comes from ``-x url=...``, then
``PAYRISK_DATABASE_URL``, then ``sqlalchemy.url`` in ``alembic.ini``.
"""

from __future__ import annotations

import os
from logging.config import fileConfig
from typing import Any

import sqlalchemy as sa
from alembic import context

from ledger.db_schema import VERSION_TABLE, metadata

_OPTIONS: dict[str, Any] = {
    "target_metadata": metadata,
    "version_table": VERSION_TABLE,
    # SQLite cannot ALTER most things: later revisions use batch mode (copy and move).
    "render_as_batch": True,
    "compare_type": True,
    # Our SQLite engine emits its own BEGIN, so DDL is transactional there too.
    "transactional_ddl": True,
}


def _database_url() -> str:
    url = (
        context.get_x_argument(as_dictionary=True).get("url")
        or os.environ.get("PAYRISK_DATABASE_URL")
        or context.config.get_main_option("sqlalchemy.url")
    )
    if not url:
        raise RuntimeError("no database URL: pass -x url=... or set PAYRISK_DATABASE_URL")
    return url


def _run_on(connection: sa.Connection) -> None:
    context.configure(connection=connection, **_OPTIONS)
    # Joins the caller's transaction when there is one; else opens and commits its own.
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_offline() -> None:
    """Write the SQL to stdout (``alembic upgrade head --sql``) instead of running it."""
    context.configure(url=_database_url(), literal_binds=True, **_OPTIONS)
    with context.begin_transaction():
        context.run_migrations()


def run_migrations_online() -> None:
    """Run the migrations on the caller's connection, or on a fresh engine."""
    connection = context.config.attributes.get("connection")
    if connection is not None:
        _run_on(connection)
        return
    from ledger.store import create_store_engine  # the same engine settings as the store

    engine = create_store_engine(_database_url())
    try:
        with engine.connect() as fresh_connection:
            _run_on(fresh_connection)
    finally:
        engine.dispose()


# Only the developer's `alembic` command has an ini file; payrisk keeps its own logging.
if context.config.config_file_name is not None:
    fileConfig(context.config.config_file_name, disable_existing_loggers=False)

if context.is_offline_mode():
    run_migrations_offline()
else:
    run_migrations_online()
