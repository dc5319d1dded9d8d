"""Who logged an activity: ``activities.created_by`` (the API key's name; empty for imports).

``created_at`` already exists (bookkeeping, server time). A frozen copy of the column
as added to ``SQL_TABLES["activities"]`` in ``ledger/db_schema.py`` by this revision.

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0004"
down_revision: str | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.add_column("activities", sa.Column("created_by", sa.Text(), nullable=True))


def downgrade() -> None:
    # SQLite cannot always drop a column in place: batch mode recreates the table there.
    with op.batch_alter_table("activities") as batch:
        batch.drop_column("created_by")
