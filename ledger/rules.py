"""The value and cross-table rules of the ledger, beside the contract's types.

Value checks are pandera ``Check`` objects keyed by (table, column); row rules compare
two columns of one row; reference rules say why an id points nowhere. All are
vectorized and return reasons a user can act on.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from dataclasses import dataclass
from typing import Any

import pandas as pd
import pandera.pandas as pa

from ledger.contract import ACTIVITIES, ACTIVITY_KINDS, CUSTOMERS, INVOICES, TABLES

# A prepaid customer has a credit limit of 0; every other amount is a positive sum.
_ZERO_ALLOWED = {(CUSTOMERS.name, CUSTOMERS.column("credit_limit").name)}
_COUNTRY_COLUMNS = {(CUSTOMERS.name, CUSTOMERS.column("country").name)}
_CURRENCY_COLUMNS = {
    (CUSTOMERS.name, CUSTOMERS.column("currency").name),
    (INVOICES.name, INVOICES.column("currency").name),
}
_KIND_COLUMN = (ACTIVITIES.name, ACTIVITIES.column("kind").name)


def _amount_check(table: str, column: str) -> pa.Check:
    if (table, column) in _ZERO_ALLOWED:
        return pa.Check.ge(0, error="must be >= 0")
    return pa.Check.gt(0, error="must be > 0")


def _column_checks() -> dict[tuple[str, str], tuple[pa.Check, ...]]:
    checks: dict[tuple[str, str], tuple[pa.Check, ...]] = {}
    for table in TABLES.values():
        for column in table.columns:
            if column.kind == "amount":
                checks[(table.name, column.name)] = (_amount_check(table.name, column.name),)
    for key in _COUNTRY_COLUMNS:
        checks[key] = (
            pa.Check.str_matches(
                r"^[A-Z]{2}\Z",
                error="expected a two-letter ISO 3166-1 country code in upper case, e.g. IL",
            ),
        )
    for key in _CURRENCY_COLUMNS:
        checks[key] = (
            pa.Check.str_matches(
                r"^[A-Z]{3}\Z",
                error="expected a three-letter ISO 4217 currency code in upper case, e.g. ILS",
            ),
        )
    checks[_KIND_COLUMN] = (
        pa.Check.isin(
            list(ACTIVITY_KINDS),
            error="unknown activity kind; expected one of " + ", ".join(ACTIVITY_KINDS),
        ),
    )
    return checks


COLUMN_CHECKS = _column_checks()
"""(table, column) -> pandera checks on its values (missing values are not checked)."""


@dataclass(frozen=True)
class RowRule:
    """``column`` must not be before ``other`` in the same row (missing values pass)."""

    column: str
    other: str

    @property
    def reason(self) -> str:
        return f"{self.column} is before {self.other}"

    def check(self) -> pa.Check:
        column, other = self.column, self.other
        return pa.Check(
            lambda frame: ~(frame[column] < frame[other]).fillna(False).astype(bool),
            error=self.reason,
        )


ROW_RULES: dict[str, tuple[RowRule, ...]] = {
    INVOICES.name: (
        RowRule(INVOICES.column("due_date").name, INVOICES.column("issue_date").name),
        RowRule(INVOICES.column("paid_date").name, INVOICES.column("issue_date").name),
    ),
}
"""table -> rules comparing two date columns of a row."""


def duplicate_reason(ids: pd.Series, lines: pd.Series, index: Any) -> str:
    """Why row ``index`` is rejected as a duplicate: the other lines holding its id."""
    same = ids == ids.loc[index]
    other_lines = sorted(int(line) for line in lines[same.fillna(False)] if line != lines[index])
    shown = ", ".join(str(line) for line in other_lines[:5])
    more = f" and {len(other_lines) - 5} more" if len(other_lines) > 5 else ""
    return f"duplicate {ids.name}: the same id is also on line {shown}{more}"


@dataclass(frozen=True)
class Referenced:
    """The ids one column may refer to, and where rejected candidates were."""

    table: str
    valid: Collection[str]
    rejected_at: Mapping[str, str]
    searched: str

    def reasons(self, ids: pd.Series) -> pd.Series:
        """Per row, why its id refers to nothing valid; ``<NA>`` for a good or empty id."""
        # Object dtype: isin on Arrow-backed strings is several times slower for 1e5+ ids.
        bad = ids.notna() & ~ids.astype(object).isin(self.valid)
        where = ids[bad].map(dict(self.rejected_at)).astype("string")
        refers = f"refers to {self.table.removesuffix('s')} '" + ids[bad]
        was_rejected = refers + "', whose row was rejected (" + where + ")"
        missing = refers + f"', which is not in {self.searched}"
        reasons = was_rejected.where(where.notna(), missing)
        return reasons.reindex(ids.index).astype("string")


def first_rejected_at(
    ids: pd.Series, rejected: pd.Series, file: str, lines: pd.Series
) -> dict[str, str]:
    """id -> "FILE line N" for ids whose row (the first one, if several) was rejected."""
    rows = pd.DataFrame({"id": ids[rejected], "line": lines[rejected]}).dropna()
    first = rows.sort_values("line").drop_duplicates("id")
    return dict(zip(first["id"], file + " line " + first["line"].astype(str), strict=True))


def _references() -> dict[tuple[str, str], str]:
    keys = {table.key: table.name for table in TABLES.values()}
    return {
        (table.name, column.name): keys[column.name]
        for table in TABLES.values()
        for column in table.columns
        if column.name in keys and keys[column.name] != table.name
    }


REFERENCES = _references()
"""(table, column) -> the table whose key it refers to, e.g. invoices.customer_id -> customers."""

DERIVED_FROM = {CUSTOMERS.name: (INVOICES.name, INVOICES.column("customer_id").name)}
"""A table that may be absent because it is derived from another's column (customers
from the invoices of an invoices-only export)."""
