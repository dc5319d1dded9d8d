"""Reading the stored scores and building the worklist, shared by the API and the web pages.

``scores_as_of`` reads the newest refresh whose ``as_of`` is on or before a date;
``build_worklist`` ranks it against the whole ledger (``serving.worklist``); ``csv_response``
is the CSV export both the API and the worklist page offer.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from fastapi.responses import Response

from ledger.db_schema import SCORES
from ledger.frames import Ledger
from ledger.store import LedgerStore, StoreUnavailable
from payrisk.settings import Settings
from serving.ledger_reads import read_whole_ledger
from serving.policy import load_policy
from serving.worklist import WorklistParams, rank_worklist

SCORE_COLUMNS = ("invoice_id", "customer_id", "open_amount", "currency", "p_over_30", "reasons")


def today_utc() -> date:
    """Today's date in UTC: the default as-of date."""
    return datetime.now(UTC).date()


def scores_as_of(store: LedgerStore, as_of: date) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The newest refresh's scores with ``as_of`` <= the date, and that refresh's facts."""
    columns = [SCORES.c[name] for name in SCORE_COLUMNS]
    try:
        with store.engine.connect() as connection:
            newest = connection.execute(
                sa.select(sa.func.max(SCORES.c.scored_at)).where(SCORES.c.as_of <= as_of)
            ).scalar()
            if newest is None:
                return pd.DataFrame(columns=list(SCORE_COLUMNS)), {}
            query = sa.select(*columns, SCORES.c.model_version, SCORES.c.as_of)
            rows = connection.execute(query.where(SCORES.c.scored_at == newest)).all()
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.ProgrammingError) as error:
        # ProgrammingError: no scores table (a database never migrated) -> 503, not 500.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StoreUnavailable(f"cannot read scores from {store.display_url}: {reason}") from error
    frame = pd.DataFrame([tuple(row) for row in rows], columns=[*SCORE_COLUMNS, "v", "as_of"])
    facts = {"scored_at": newest, "model_version": str(frame["v"].iloc[0]), "as_of": rows[0][-1]}
    frame = frame.astype({"open_amount": "float64", "p_over_30": "float64"})
    return frame[list(SCORE_COLUMNS)], facts


def reasons_in(value: Any, language: str) -> Any:
    """A stored reasons value narrowed to one language (English when it lacks that one)."""
    if isinstance(value, str):
        try:
            value = json.loads(value)
        except ValueError:
            return value
    if isinstance(value, Mapping):
        return value.get(language) or value.get("en") or []
    return value


def build_worklist(
    store: LedgerStore, settings: Settings, as_of: date, language: str = "en"
) -> tuple[pd.DataFrame, Ledger, dict[str, Any]]:
    """The whole ranked worklist at ``as_of``, the ledger it used and the scores' facts.

    ``language``: the language of the reasons (those stored for it, else English).
    """
    scores, facts = scores_as_of(store, as_of)
    if language != "en" and not scores.empty:
        scores = scores.assign(reasons=scores["reasons"].map(lambda v: reasons_in(v, language)))
    ledger = read_whole_ledger(store)
    params = WorklistParams.from_settings(settings)
    rules = load_policy(settings.worklist_policy_file)
    return rank_worklist(scores, ledger, rules, params, pd.Timestamp(as_of)), ledger, facts


def plain(value: Any) -> Any:
    """A JSON-ready scalar: None for NaN/NaT, ISO dates, ints for whole floats of counts."""
    if isinstance(value, list):
        return value
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NaT:
        return None
    if isinstance(value, pd.Timestamp):
        return value.date()
    return value.item() if hasattr(value, "item") else value


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """The rows of ``frame`` as dicts of plain values (``plain``)."""
    return [{key: plain(value) for key, value in row.items()} for row in frame.to_dict("records")]


def csv_response(frame: pd.DataFrame, as_of: date) -> Response:
    """The worklist rows as a CSV download (reasons joined by `` | ``)."""
    buffer = io.StringIO()
    export = frame.assign(reasons=frame["reasons"].map(lambda texts: " | ".join(texts or [])))
    writer = csv.writer(buffer)
    writer.writerow(export.columns)
    for row in records(export):
        writer.writerow(["" if value is None else value for value in row.values()])
    headers = {"Content-Disposition": f'attachment; filename="worklist-{as_of}.csv"'}
    return Response(buffer.getvalue(), media_type="text/csv; charset=utf-8", headers=headers)
