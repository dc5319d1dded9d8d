"""Stored scores of open invoices: model version, time, probabilities, reasons.

A frozen copy of ``SCORES`` in ``ledger/db_schema.py`` as of this revision: later schema
changes go into new revisions, never into this file.

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "scores",
        sa.Column("score_id", sa.String(), nullable=False),
        sa.Column("scored_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("model_name", sa.Text(), nullable=False),
        sa.Column("model_version", sa.String(), nullable=False),
        sa.Column("as_of", sa.Date(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("open_amount", sa.Numeric(18, 2), nullable=False),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("bucket_probabilities", sa.JSON(), nullable=False),
        sa.Column("p_late", sa.Float(), nullable=False),
        sa.Column("p_over_30", sa.Float(), nullable=False),
        sa.Column("expected_days_late", sa.Float(), nullable=False),
        sa.Column("predicted_payment_date", sa.Date(), nullable=False),
        sa.Column("reasons", sa.JSON(), nullable=False),
        sa.PrimaryKeyConstraint("score_id", name=op.f("pk_scores")),
    )
    op.create_index(op.f("ix_scores_customer_id_scored_at"), "scores", ["customer_id", "scored_at"])
    op.create_index(op.f("ix_scores_scored_at"), "scores", ["scored_at"])


def downgrade() -> None:
    op.drop_table("scores")
