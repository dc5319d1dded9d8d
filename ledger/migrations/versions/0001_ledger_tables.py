"""The four ledger tables: customers, invoices, payments, activities.

A frozen copy of ``ledger/db_schema.py`` as of this revision: later schema changes go
into new revisions, never into this file.

Revision ID: 0001
Revises:
Create Date: 2026-05-10
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from decimal import Decimal

import sqlalchemy as sa
from alembic import op

revision: str = "0001"
down_revision: str | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamps() -> list[sa.Column[datetime]]:
    return [
        sa.Column(name, sa.DateTime(timezone=True), nullable=False, server_default=sa.func.now())
        for name in ("created_at", "updated_at")
    ]


def _amount() -> sa.Numeric[Decimal]:
    return sa.Numeric(18, 2)


def _foreign_key(table: str, column: str, referred: str) -> sa.ForeignKeyConstraint:
    name = op.f(f"fk_{table}_{column}_{referred}")
    return sa.ForeignKeyConstraint([column], [f"{referred}.{column}"], name=name)


def upgrade() -> None:
    op.create_table(
        "customers",
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("segment", sa.Text(), nullable=True),
        sa.Column("industry", sa.Text(), nullable=True),
        sa.Column("country", sa.Text(), nullable=True),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("credit_limit", _amount(), nullable=True),
        sa.Column("created_date", sa.Date(), nullable=True),
        sa.Column("collector", sa.Text(), nullable=True),
        sa.Column("language", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("customer_id", name=op.f("pk_customers")),
    )
    op.create_table(
        "invoices",
        sa.Column("invoice_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("issue_date", sa.Date(), nullable=False),
        sa.Column("due_date", sa.Date(), nullable=False),
        sa.Column("amount", _amount(), nullable=False),
        sa.Column("currency", sa.Text(), nullable=True),
        sa.Column("terms", sa.Text(), nullable=True),
        sa.Column("disputed", sa.Boolean(), nullable=True),
        sa.Column("paperless", sa.Boolean(), nullable=True),
        sa.Column("paid_date", sa.Date(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("invoice_id", name=op.f("pk_invoices")),
        _foreign_key("invoices", "customer_id", "customers"),
    )
    op.create_index(op.f("ix_invoices_customer_id"), "invoices", ["customer_id"])
    op.create_index(op.f("ix_invoices_paid_date"), "invoices", ["paid_date"])
    op.create_table(
        "payments",
        sa.Column("payment_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=True),
        sa.Column("payment_date", sa.Date(), nullable=False),
        sa.Column("amount", _amount(), nullable=False),
        *_timestamps(),
        sa.PrimaryKeyConstraint("payment_id", name=op.f("pk_payments")),
        _foreign_key("payments", "customer_id", "customers"),
        _foreign_key("payments", "invoice_id", "invoices"),
    )
    op.create_index(
        op.f("ix_payments_customer_id_payment_date"), "payments", ["customer_id", "payment_date"]
    )
    op.create_index(op.f("ix_payments_invoice_id"), "payments", ["invoice_id"])
    op.create_table(
        "activities",
        sa.Column("activity_id", sa.String(), nullable=False),
        sa.Column("customer_id", sa.String(), nullable=False),
        sa.Column("invoice_id", sa.String(), nullable=True),
        sa.Column("date", sa.Date(), nullable=False),
        sa.Column("kind", sa.Text(), nullable=True),
        sa.Column("promised_date", sa.Date(), nullable=True),
        sa.Column("promised_amount", _amount(), nullable=True),
        sa.Column("text", sa.Text(), nullable=True),
        *_timestamps(),
        sa.PrimaryKeyConstraint("activity_id", name=op.f("pk_activities")),
        _foreign_key("activities", "customer_id", "customers"),
        _foreign_key("activities", "invoice_id", "invoices"),
    )
    op.create_index(op.f("ix_activities_customer_id_date"), "activities", ["customer_id", "date"])
    op.create_index(op.f("ix_activities_invoice_id"), "activities", ["invoice_id"])


def downgrade() -> None:
    # Dropping a table drops its indexes; children first, for the foreign keys.
    for table in ("activities", "payments", "invoices", "customers"):
        op.drop_table(table)
