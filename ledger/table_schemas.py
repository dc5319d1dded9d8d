"""The pandera schema of each contract table, and a quick "would it find nothing?".

``schema_for`` builds a table's schema once (the contract is fixed). Validating one row
with the full schema still costs ~10 ms, nearly all of it per-column overhead, and an
API upsert sends one row that is almost always valid. ``passes_schema`` asks the same
questions (canonical dtypes, required values present, unique key, the very ``Check``
objects of ``ledger.rules`` and its row rules) with plain pandas. It only answers
"certainly clean": on any doubt it says False and ``ledger.validation`` runs the full
schema, which alone words the rejections. So it never changes a result; it only skips
work on frames the schema would accept.
"""

from __future__ import annotations

import pandas as pd
import pandera.pandas as pa

from ledger.contract import Table
from ledger.frames import dtype_of, is_canonical
from ledger.rules import COLUMN_CHECKS, ROW_RULES

# Above this many rows the schema's vectorized run is cheap per row and a failed
# precheck would be wasted work: the precheck is for the one-row upserts of the API.
MAX_PRECHECK_ROWS = 100

_SCHEMAS: dict[str, pa.DataFrameSchema] = {}


def schema_for(table: Table) -> pa.DataFrameSchema:
    """The pandera schema of a contract table, on frames in canonical dtypes.

    Types and nullability come from the contract; value checks (amounts > 0, codes,
    activity kinds, date order) from ``ledger.rules``. The key column is unique.
    Built once per table (the contract is fixed): building costs more than validating
    the one row of an API upsert.
    """
    if table.name not in _SCHEMAS:
        _SCHEMAS[table.name] = _build_schema(table)
    return _SCHEMAS[table.name]


def _build_schema(table: Table) -> pa.DataFrameSchema:
    columns = {
        column.name: pa.Column(
            dtype_of(column),
            checks=list(COLUMN_CHECKS.get((table.name, column.name), ())),
            nullable=not column.required,
            unique=column.name == table.key,
            required=True,
        )
        for column in table.columns
    }
    row_checks = [rule.check() for rule in ROW_RULES.get(table.name, ())]
    return pa.DataFrameSchema(columns, checks=row_checks, name=table.name, strict=False)


def passes_schema(table: Table, frame: pd.DataFrame) -> bool:
    """True only when the table's pandera schema would certainly report no failure."""
    if len(frame) > MAX_PRECHECK_ROWS or not is_canonical(table, frame):
        return False
    for column in table.columns:
        values = frame[column.name]
        if column.required and values.isna().any():
            return False
        if column.name == table.key and values.duplicated().any():
            return False
        checks = COLUMN_CHECKS.get((table.name, column.name), ())
        if any(not _passed(check, values) for check in checks):
            return False
    return all(_passed(rule.check(), frame) for rule in ROW_RULES.get(table.name, ()))


def _passed(check: pa.Check, data: pd.Series | pd.DataFrame) -> bool:
    """Run one pandera ``Check`` on its own (missing values ignored as the schema does)."""
    return bool(check(data).check_passed)
