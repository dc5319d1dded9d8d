"""Alembic migrations of the ledger database, runnable from the installed package.

No ``alembic.ini`` is needed: ``alembic_config`` points Alembic at this folder in code,
and the caller's open connection is handed to ``env.py``, so a migration runs inside
the caller's transaction with the caller's engine settings (SQLite pragmas included).
Revisions live in ``versions/``, one file per schema change, named ``NNNN_what.py``
with revision id ``NNNN``.
"""

from __future__ import annotations

from functools import cache
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory

from ledger.db_schema import VERSION_TABLE

MIGRATIONS_DIR = Path(__file__).resolve().parent


def alembic_config(connection: sa.Connection | None = None) -> Config:
    """An Alembic config for these migrations; ``connection`` is used by ``env.py`` if given."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    if connection is not None:
        config.attributes["connection"] = connection
    return config


@cache
def _scripts() -> ScriptDirectory:
    return ScriptDirectory.from_config(alembic_config())


def head_revision() -> str:
    """The newest revision this version of payrisk knows."""
    head = _scripts().get_current_head()
    if head is None:
        raise RuntimeError(f"no Alembic revisions found in {MIGRATIONS_DIR / 'versions'}")
    return head


def known_revisions() -> set[str]:
    """Every revision id in ``versions/``."""
    return {script.revision for script in _scripts().walk_revisions()}


def current_revision(connection: sa.Connection) -> str | None:
    """The revision the database is at; None for a database never migrated."""
    context = MigrationContext.configure(connection, opts={"version_table": VERSION_TABLE})
    return context.get_current_revision()


def upgrade(connection: sa.Connection, revision: str = "head") -> None:
    """Migrate the database up to ``revision`` inside the connection's transaction."""
    command.upgrade(alembic_config(connection), revision)


def downgrade(connection: sa.Connection, revision: str) -> None:
    """Migrate the database down to ``revision`` (``"base"`` drops every ledger table)."""
    command.downgrade(alembic_config(connection), revision)
