"""Reading the stored scores and building the worklist, shared by the API and the web pages.

``scores_as_of`` reads the newest refresh whose ``as_of`` is on or before a date;
``build_worklist`` ranks it with every customer's facts (``serving.worklist_facts``,
which recomputes only the customers changed since it last looked, instead of the whole
ledger after every write); ``csv_text`` is the CSV export both the API and the
worklist page offer. A worker keeps the last few score reads (until a newer refresh) and
rankings (until the facts, the refresh, the settings or the policy table change); a
request that finds them only filters and pages.
"""

from __future__ import annotations

import csv
import io
import json
import math
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable, Iterator, Mapping
from contextlib import contextmanager
from datetime import UTC, date, datetime
from typing import Any

import pandas as pd
import sqlalchemy as sa
from fastapi.responses import Response

from ledger.db_schema import SCORES
from ledger.store import LedgerStore, StoreUnavailable
from payrisk.settings import Settings
from serving.per_store import PerStore
from serving.policy import load_policy
from serving.worklist import WorklistParams, rank_customers
from serving.worklist_facts import incremental_facts

# Score reads and rankings kept per worker: a few as-of dates x languages x refreshes.
MAX_KEPT = 8
SCORE_COLUMNS = ("invoice_id", "customer_id", "open_amount", "currency", "p_over_30", "reasons")


def today_utc() -> date:
    """Today's date in UTC: the default as-of date."""
    return datetime.now(UTC).date()


def _newest_scored_at(connection: sa.Connection, as_of: date) -> Any:
    query = sa.select(sa.func.max(SCORES.c.scored_at)).where(SCORES.c.as_of <= as_of)
    return connection.execute(query).scalar()


def _scores_of(connection: sa.Connection, newest: Any) -> tuple[pd.DataFrame, dict[str, Any]]:
    columns = [SCORES.c[name] for name in SCORE_COLUMNS]
    query = sa.select(*columns, SCORES.c.model_version, SCORES.c.as_of)
    rows = connection.execute(query.where(SCORES.c.scored_at == newest)).all()
    frame = pd.DataFrame([tuple(row) for row in rows], columns=[*SCORE_COLUMNS, "v", "as_of"])
    facts = {"scored_at": newest, "model_version": str(frame["v"].iloc[0]), "as_of": rows[0][-1]}
    frame = frame.astype({"open_amount": "float64", "p_over_30": "float64"})
    return frame[list(SCORE_COLUMNS)], facts


@contextmanager
def _scores_connection(store: LedgerStore) -> Iterator[sa.Connection]:
    try:
        with store.engine.connect() as connection:
            yield connection
    except (sa.exc.OperationalError, sa.exc.InterfaceError, sa.exc.ProgrammingError) as error:
        # ProgrammingError: no scores table (a database never migrated) -> 503, not 500.
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StoreUnavailable(f"cannot read scores from {store.display_url}: {reason}") from error


def scores_as_of(store: LedgerStore, as_of: date) -> tuple[pd.DataFrame, dict[str, Any]]:
    """The newest refresh's scores with ``as_of`` <= the date, and that refresh's facts."""
    with _scores_connection(store) as connection:
        newest = _newest_scored_at(connection, as_of)
        if newest is None:
            return pd.DataFrame(columns=list(SCORE_COLUMNS)), {}
        return _scores_of(connection, newest)


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


class _Recent:
    """The last few results by key (a worker's own), least recently used dropped first."""

    def __init__(self, max_entries: int) -> None:
        self.max_entries = max_entries
        self._entries: OrderedDict[Hashable, Any] = OrderedDict()
        self._lock = threading.Lock()

    def get(self, key: Hashable, compute: Callable[[], Any]) -> Any:
        with self._lock:
            if key in self._entries:
                self._entries.move_to_end(key)
                return self._entries[key]
        value = compute()  # outside the lock: two threads may compute the same, both right
        with self._lock:
            self._entries[key] = value
            while len(self._entries) > self.max_entries:
                self._entries.popitem(last=False)
        return value


# per store: two stores may share a URL (tests), a refresh time and even an id()
_SCORES: PerStore[_Recent] = PerStore(lambda _store: _Recent(MAX_KEPT))
# keyed by the facts' version, unique in the process
_RANKED = _Recent(MAX_KEPT)


def _scores_kept(store: LedgerStore) -> _Recent:
    return _SCORES.get(store)


def read_scores_cached(
    store: LedgerStore, as_of: date, language: str
) -> tuple[pd.DataFrame, dict[str, Any]]:
    """``scores_as_of`` with reasons in ``language``, reused while no newer refresh exists.

    A refresh writes all its rows in one transaction with one ``scored_at`` and scores are
    never updated, so the newest ``scored_at`` (one indexed query) names the rows exactly.
    """
    with _scores_connection(store) as connection:
        newest = _newest_scored_at(connection, as_of)
    if newest is None:
        return pd.DataFrame(columns=list(SCORE_COLUMNS)), {}

    def read() -> tuple[pd.DataFrame, dict[str, Any]]:
        with _scores_connection(store) as connection:
            scores, refresh = _scores_of(connection, newest)
        if language != "en":
            scores = scores.assign(reasons=scores["reasons"].map(lambda v: reasons_in(v, language)))
        return scores, refresh

    scores, refresh = _scores_kept(store).get((newest, as_of, language), read)
    return scores, dict(refresh)


def build_worklist(
    store: LedgerStore, settings: Settings, as_of: date, language: str = "en"
) -> tuple[pd.DataFrame, pd.DataFrame, dict[str, Any]]:
    """The whole ranked worklist at ``as_of``, every customer's facts and the refresh's facts.

    ``language``: the language of the reasons (those stored for it, else English). The
    customers' facts (``serving.worklist_facts``, kept up to date incrementally) also say
    which filter values exist and whether the ledger is empty. The ranking is reused while
    the facts, the refresh, the settings and the policy table are the same.
    """
    params = WorklistParams.from_settings(settings)
    rules = load_policy(settings.worklist_policy_file)
    facts = incremental_facts(store).state(as_of)
    scores, refresh = read_scores_cached(store, as_of, language)
    # the settings and the policy table are part of the key: both are frozen dataclasses
    key = (facts.version, refresh.get("scored_at"), as_of, language, repr(params), repr(rules))
    ranked = _RANKED.get(key, lambda: rank_customers(scores, facts.facts, rules, params))
    return ranked, facts.facts, refresh


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


def csv_text(frame: pd.DataFrame) -> str:
    """The worklist rows as CSV (reasons joined by `` | ``)."""
    buffer = io.StringIO()
    export = frame.assign(reasons=frame["reasons"].map(lambda texts: " | ".join(texts or [])))
    writer = csv.writer(buffer)
    writer.writerow(export.columns)
    for row in records(export):
        writer.writerow(["" if value is None else value for value in row.values()])
    return buffer.getvalue()


def csv_download(text: str, as_of: date) -> Response:
    """CSV text (``csv_text``) as the worklist's download."""
    headers = {"Content-Disposition": f'attachment; filename="worklist-{as_of}.csv"'}
    return Response(text, media_type="text/csv; charset=utf-8", headers=headers)
