"""The ledger's data contract: table names, column names, kinds and which are required.

Column names are the contract (DESIGN.md, "Data contract"). Everything that reads or
writes ledger data -- validation, import, the generator, the SQL store, features --
takes its columns from here, never from its own list.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

ColumnKind = Literal["id", "text", "date", "amount", "flag"]

ACTIVITY_KINDS = (
    "reminder",
    "call",
    "promise",
    "dispute_opened",
    "dispute_resolved",
    "note",
    # A (re)assignment to another collector: ``text`` holds the new collector's name.
    "reassign",
)


@dataclass(frozen=True)
class Column:
    """One column of a ledger table."""

    name: str
    kind: ColumnKind
    required: bool = False
    description: str = ""


@dataclass(frozen=True)
class Table:
    """One ledger table: its name, primary key and columns in canonical order."""

    name: str
    key: str
    columns: tuple[Column, ...]
    optional_table: bool = False

    @property
    def column_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns)

    @property
    def required_names(self) -> tuple[str, ...]:
        return tuple(column.name for column in self.columns if column.required)

    def column(self, name: str) -> Column:
        for column in self.columns:
            if column.name == name:
                return column
        raise KeyError(f"table {self.name!r} has no column {name!r}")


CUSTOMERS = Table(
    name="customers",
    key="customer_id",
    columns=(
        Column("customer_id", "id", True, "the customer's id in the source system"),
        Column("name", "text", description="legal or trading name"),
        Column("segment", "text", description="e.g. enterprise, mid-market, small"),
        Column("industry", "text"),
        Column("country", "text", description="ISO 3166-1 alpha-2"),
        Column("currency", "text", description="ISO 4217, the customer's billing currency"),
        Column("credit_limit", "amount", description="in the customer's currency"),
        Column("created_date", "date", description="when the customer was onboarded"),
        Column("collector", "text", description="the collector assigned to the customer"),
        Column("language", "text", description="preferred language, e.g. en, he"),
    ),
)

INVOICES = Table(
    name="invoices",
    key="invoice_id",
    columns=(
        Column("invoice_id", "id", True),
        Column("customer_id", "id", True),
        Column("issue_date", "date", True),
        Column("due_date", "date", True),
        Column("amount", "amount", True, "> 0, in the invoice's currency"),
        Column("currency", "text", description="ISO 4217"),
        Column("terms", "text", description="payment terms, e.g. net30, eom+60"),
        Column("disputed", "flag"),
        Column("paperless", "flag"),
        Column("paid_date", "date", description="empty while the invoice is open"),
    ),
)

PAYMENTS = Table(
    name="payments",
    key="payment_id",
    optional_table=True,
    columns=(
        Column("payment_id", "id", True),
        Column("customer_id", "id", True),
        Column("invoice_id", "id", description="empty for an unapplied payment"),
        Column("payment_date", "date", True),
        Column("amount", "amount", True, "> 0"),
    ),
)

ACTIVITIES = Table(
    name="activities",
    key="activity_id",
    optional_table=True,
    columns=(
        Column("activity_id", "id", True),
        Column("customer_id", "id", True),
        Column("invoice_id", "id"),
        Column("date", "date", True),
        Column("kind", "text", description="one of " + ", ".join(ACTIVITY_KINDS)),
        Column("promised_date", "date", description="for kind=promise"),
        Column("promised_amount", "amount", description="for kind=promise"),
        Column("text", "text"),
    ),
)

TABLES: dict[str, Table] = {
    table.name: table for table in (CUSTOMERS, INVOICES, PAYMENTS, ACTIVITIES)
}
TABLE_NAMES: tuple[str, ...] = tuple(TABLES)
