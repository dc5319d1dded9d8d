"""Stored scores (table ``scores``): write a refresh's rows at once, read the latest back.

A refresh writes every row it scored with one ``scored_at`` (UTC) in one transaction, so
"the latest scores" are exactly the rows of the newest ``scored_at``, never a mix of two
refreshes. Scores are a log: older refreshes stay, for monitoring and looking back.
Amounts are stored to the cent like the ledger's; JSON columns come back as Python
objects (``bucket_probabilities`` a dict, ``reasons`` a dict of lists per language).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection
from datetime import UTC, date, datetime
from typing import Any

import numpy as np
import pandas as pd
import sqlalchemy as sa

from ledger.db_schema import AMOUNT_SCALE, SCORES
from ledger.store import LedgerStore, StoreError, StoreUnavailable

SCORE_COLUMNS = tuple(column.name for column in SCORES.columns)
"""The columns of a scores frame, in table order."""

_DATE_COLUMNS = ("as_of", "predicted_payment_date")
_FLOAT_COLUMNS = ("open_amount", "p_late", "p_over_30", "expected_days_late")
_ROWS_PER_INSERT = 1_000
_IDS_PER_LOOKUP = 500


class ScoresFrameError(StoreError):
    """A scores frame that lacks columns or holds values the table cannot take."""


def _parameters(scores: pd.DataFrame) -> list[dict[str, Any]]:
    """The frame as executemany parameters: dates as ``date``, amounts to the cent."""
    columns: dict[str, Any] = {}
    for name in SCORE_COLUMNS:
        values = scores[name]
        if name in _DATE_COLUMNS:
            columns[name] = pd.to_datetime(values).dt.date.to_numpy(dtype=object)
        elif name == "open_amount":
            columns[name] = np.round(values.to_numpy(dtype="float64"), AMOUNT_SCALE).tolist()
        elif name in _FLOAT_COLUMNS:
            columns[name] = values.to_numpy(dtype="float64").tolist()
        else:
            columns[name] = values.to_numpy(dtype=object, na_value=None)
    return [
        dict(zip(SCORE_COLUMNS, row, strict=True)) for row in zip(*columns.values(), strict=True)
    ]


def _checked(scores: pd.DataFrame, scored_at: datetime | None) -> pd.DataFrame:
    """A copy with ``score_id`` and ``scored_at`` filled in; ``ScoresFrameError`` if unusable."""
    missing = [
        name
        for name in SCORE_COLUMNS
        if name not in scores.columns and name not in ("score_id", "scored_at")
    ]
    if missing:
        raise ScoresFrameError(f"the scores frame lacks the columns {missing}; nothing was written")
    filled = scores.copy()
    if "score_id" not in filled.columns:
        filled["score_id"] = [uuid.uuid4().hex for _ in range(len(filled))]
    if "scored_at" not in filled.columns:
        filled["scored_at"] = scored_at or datetime.now(UTC)
    numbers = filled[list(_FLOAT_COLUMNS)].to_numpy(dtype="float64")
    if not np.isfinite(numbers).all():
        raise ScoresFrameError(
            "the scores frame holds NaN or infinite numbers; nothing was written"
        )
    return filled


def write_scores(
    store: LedgerStore, scores: pd.DataFrame, *, scored_at: datetime | None = None
) -> int:
    """Insert scored rows in one transaction; returns the rows written.

    ``scores`` has ``SCORE_COLUMNS`` (``score_id`` and ``scored_at`` may be left out: a
    random id each, and ``scored_at`` -- default now, UTC -- for every row).
    """
    rows = _parameters(_checked(scores, scored_at))
    try:
        with store.engine.begin() as connection:
            for start in range(0, len(rows), _ROWS_PER_INSERT):
                connection.execute(SCORES.insert(), rows[start : start + _ROWS_PER_INSERT])
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise StoreUnavailable(
            f"cannot write scores to {store.display_url}: {error.orig}"
        ) from error
    except (sa.exc.IntegrityError, sa.exc.DataError, sa.exc.ProgrammingError) as error:
        raise StoreError(
            f"the database refused the scores ({str(error.orig).strip()}); nothing was written"
        ) from error
    return len(rows)


def _frame(rows: list[sa.Row[Any]]) -> pd.DataFrame:
    frame = pd.DataFrame([tuple(row) for row in rows], columns=list(SCORE_COLUMNS))
    frame["scored_at"] = pd.to_datetime(frame["scored_at"], utc=True)
    for name in _DATE_COLUMNS:
        frame[name] = pd.to_datetime(frame[name]).astype("datetime64[ns]")
    for name in _FLOAT_COLUMNS:
        frame[name] = frame[name].astype("float64")
    for name in (
        "score_id",
        "model_name",
        "model_version",
        "invoice_id",
        "customer_id",
        "currency",
    ):
        frame[name] = frame[name].astype("string")
    return frame


def latest_scored_at(connection: sa.Connection) -> datetime | None:
    """The ``scored_at`` of the newest refresh, None when nothing was ever scored."""
    value = connection.execute(sa.select(sa.func.max(SCORES.c.scored_at))).scalar()
    if value is None:
        return None
    stamp = pd.Timestamp(value)
    return (
        stamp.tz_localize(UTC) if stamp.tzinfo is None else stamp.tz_convert(UTC)
    ).to_pydatetime()


def read_latest_scores(
    store: LedgerStore, customer_ids: Collection[str] | None = None
) -> pd.DataFrame:
    """The rows of the newest refresh (all customers, or only ``customer_ids``).

    An empty frame with ``SCORE_COLUMNS`` when nothing was scored yet.
    """
    try:
        with store.engine.connect() as connection:
            newest = latest_scored_at(connection)
            if newest is None:
                return _frame([])
            query = sa.select(SCORES).where(SCORES.c.scored_at == newest)
            if customer_ids is None:
                return _frame(list(connection.execute(query.order_by(SCORES.c.invoice_id))))
            wanted, rows = sorted(set(customer_ids)), []
            for start in range(0, len(wanted), _IDS_PER_LOOKUP):
                chunk = wanted[start : start + _IDS_PER_LOOKUP]
                rows += list(connection.execute(query.where(SCORES.c.customer_id.in_(chunk))))
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise StoreUnavailable(
            f"cannot read scores from {store.display_url}: {error.orig}"
        ) from error
    return _frame(rows).sort_values("invoice_id", ignore_index=True)


def latest_refresh_customers(store: LedgerStore, limit: int) -> tuple[date, list[str]] | None:
    """The newest refresh's as-of date and at most ``limit`` of its customers, the
    largest expected amount more than 30 days late first (the worklist's order, ties by
    id); None when nothing was scored yet."""
    at_risk = sa.func.sum(SCORES.c.open_amount * SCORES.c.p_over_30)
    try:
        with store.engine.connect() as connection:
            newest = latest_scored_at(connection)
            if newest is None:
                return None
            query = (
                sa.select(SCORES.c.customer_id, sa.func.max(SCORES.c.as_of))
                .where(SCORES.c.scored_at == newest)
                .group_by(SCORES.c.customer_id)
                .order_by(at_risk.desc(), SCORES.c.customer_id)
                .limit(limit)
            )
            rows = connection.execute(query).all()
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise StoreUnavailable(
            f"cannot read scores from {store.display_url}: {error.orig}"
        ) from error
    if not rows:
        return None
    return pd.Timestamp(rows[0][1]).date(), [str(row[0]) for row in rows]


def read_scores(store: LedgerStore, *, since: datetime | None = None) -> pd.DataFrame:
    """Every stored score row of every refresh (as-of date >= ``since`` if given), for
    monitoring; ordered by ``scored_at`` then ``invoice_id``. Empty frame when none."""
    query = sa.select(SCORES).order_by(SCORES.c.scored_at, SCORES.c.invoice_id)
    if since is not None:
        query = query.where(SCORES.c.as_of >= pd.Timestamp(since).date())
    try:
        with store.engine.connect() as connection:
            return _frame(list(connection.execute(query)))
    except (sa.exc.OperationalError, sa.exc.InterfaceError) as error:
        raise StoreUnavailable(
            f"cannot read scores from {store.display_url}: {error.orig}"
        ) from error


def count_scores(store: LedgerStore) -> int:
    """How many score rows are stored, over every refresh."""
    with store.engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(SCORES)).scalar() or 0)
