"""A customer's history sent to ``POST /v1/scores:stateless``, as the ledger it would be.

The rows go through the same rules as an import or an ingest
(``ledger.validation.validate_ledger``), with nothing looked up in the database: every
reference must resolve inside the request. Accepted rows are shaped exactly as the store
would give them back -- amounts rounded to the cent (``NUMERIC(18, 2)``), each table
ordered by its primary key -- so the stateless answer equals the stored one for the same
history.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
from pydantic import BaseModel

from ledger.contract import TABLES
from ledger.db_schema import AMOUNT_SCALE
from ledger.frames import Ledger
from ledger.validation import validate_ledger
from serving.errors import ApiError
from serving.ingest import records_frame
from serving.schemas.ledger import RowError
from serving.schemas.score_requests import StatelessRequest


def _as_stored(name: str, frame: pd.DataFrame) -> pd.DataFrame:
    table = TABLES[name]
    amounts = [column.name for column in table.columns if column.kind == "amount"]
    rounded = frame.assign(**{column: frame[column].round(AMOUNT_SCALE) for column in amounts})
    return rounded.sort_values(table.key, kind="stable", ignore_index=True)


def sent_history(body: StatelessRequest, max_rows: int) -> Ledger:
    """The request's rows as a ledger; ``ApiError`` 413 over ``max_rows``, 422 with one
    entry per rejected value (table, 0-based index in its list, field, reason)."""
    rows = body.row_count()
    if rows > max_rows:
        raise ApiError(
            413,
            f"the history has {rows} rows; at most {max_rows} are accepted",
            rows=rows,
            max_batch_rows=max_rows,
        )
    records: dict[str, Sequence[BaseModel]] = {
        "customers": [body.customer],
        "invoices": body.invoices,
        "payments": body.payments,
        "activities": body.activities,
    }
    frames = {name: records_frame(name, rows_of) for name, rows_of in records.items()}
    lines = {
        name: pd.Series(np.arange(len(frame)), index=frame.index) for name, frame in frames.items()
    }
    report = validate_ledger(frames, lines=lines)
    if not report.ok:
        errors = [
            RowError(
                table=rejection.table,
                index=rejection.line,
                field=rejection.column,
                value=rejection.value,
                reason=rejection.reason,
            ).model_dump()
            for rejection in report.rejections
        ]
        raise ApiError(422, f"{len(errors)} value(s) rejected; nothing was scored", errors=errors)
    return Ledger(**{name: _as_stored(name, frame) for name, frame in frames.items()})
