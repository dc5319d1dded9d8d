"""An index on ``updated_at`` of every ledger table.

The service asks "which rows changed since t" every few hundred milliseconds per worker
(``serving.ledger_changes``: the worklist's facts, the answer warmer); without an index
each question scans the four tables whole. Mirrors ``_sql_table`` in
``ledger/db_schema.py`` as of this revision.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-05
"""

from __future__ import annotations

from collections.abc import Sequence

from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

LEDGER_TABLES = ("customers", "invoices", "payments", "activities")


def upgrade() -> None:
    for table in LEDGER_TABLES:
        op.create_index(op.f(f"ix_{table}_updated_at"), table, ["updated_at"])


def downgrade() -> None:
    for table in LEDGER_TABLES:
        op.drop_index(op.f(f"ix_{table}_updated_at"), table_name=table)
