"""Reading the stored scores and building the worklist, shared by the API and the web pages.

``scores_as_of`` reads the newest refresh whose ``as_of`` is on or before a date;
``build_worklist`` ranks it with the customers' facts from the whole ledger
(``serving.worklist``); ``csv_response`` is the CSV export both the API and the worklist
page offer. The ranked worklist is computed once per database revision, as-of date,
language, settings and policy table (``serving.ledger_cache``); a request that finds it
only filters and pages it.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from fastapi.responses import Response

from ledger.db_schema import SCORES
from ledger.store import LedgerStore, StoreUnavailable
from payrisk.settings import Settings
from serving.ledger_cache import ledger_cache
from serving.ledger_reads import read_whole_ledger
from serving.policy import load_policy
from serving.worklist import WorklistParams, customer_facts, rank_customers

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


@dataclass(frozen=True)
class WorklistInputs:
    """What the worklist ranks: the scores, every customer's facts, the refresh's facts."""

    scores: pd.DataFrame
    customers: pd.DataFrame
    refresh: dict[str, Any]


def read_worklist_inputs(store: LedgerStore, as_of: date, language: str) -> WorklistInputs:
    """The newest refresh's scores at ``as_of`` (reasons in ``language``) and the customers'
    facts at ``as_of`` from the whole ledger (uncached: ``build_worklist`` caches it)."""
    scores, refresh = scores_as_of(store, as_of)
    if language != "en" and not scores.empty:
        scores = scores.assign(reasons=scores["reasons"].map(lambda v: reasons_in(v, language)))
    customers = customer_facts(read_whole_ledger(store), pd.Timestamp(as_of))
    return WorklistInputs(scores, customers, refresh)


def build_worklist(
    store: LedgerStore, settings: Settings, as_of: date, language: str = "en"
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The whole ranked worklist at ``as_of``, every customer's facts and the refresh's facts.

    ``language``: the language of the reasons (those stored for it, else English). The
    customers' facts (``serving.worklist.customer_facts``) also say which filter values
    exist and whether the ledger is empty.
    """
    params = WorklistParams.from_settings(settings)
    rules = load_policy(settings.worklist_policy_file)

    def rank() -> tuple[pd.DataFrame, WorklistInputs]:
        inputs = read_worklist_inputs(store, as_of, language)
        return rank_customers(inputs.scores, inputs.customers, rules, params), inputs

    # the settings and the policy table are part of the key: both are frozen dataclasses
    key = ("worklist", as_of, language, repr(params), repr(rules))
    ranked, inputs = ledger_cache(store).get_or_compute(key, rank)
    return ranked, inputs.customers, dict(inputs.refresh)


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
