"""Refresh-ahead of stored-mode answers (``serving.answer_warmer``), SQLite and PostgreSQL:
a customer asked about, then changed through another worker, is answered from the cache
next time, with exactly the answer a cold computation gives; one never asked is not
scored ahead."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from typing import Any

import sqlalchemy as sa
from fastapi.testclient import TestClient

from ledger.contract import TABLES
from ledger.db_schema import SQL_TABLES
from payrisk.settings import Settings
from serving.answer_cache import answer_cache_for
from serving.answer_warmer import AnswerWarmer, AskedKeys
from tests.serving.test_scores import AS_OF, bearer, chosen, records, scoring

__all__ = ["chosen", "scoring"]  # the fixtures, shared with test_scores


def _settle(client: TestClient, customer_ids: list[str], seconds_ago: int) -> None:
    """SQLite only: date the customers' rows back (database clock), so their revisions
    are settled (whole-second clock) yet still inside the change window (60 s)."""
    store = client.app.state.store  # type: ignore[attr-defined]
    if store.dialect_name != "sqlite":
        return  # PostgreSQL: settled as soon as the writer committed
    with store.engine.begin() as connection:
        for name in TABLES:
            table = SQL_TABLES[name]
            connection.execute(
                sa.update(table)
                .where(table.c.customer_id.in_(customer_ids))
                .values(updated_at=sa.text(f"datetime('now', '-{seconds_ago} seconds')"))
            )


def _risk(client: TestClient, key: str, customer_id: str) -> dict[str, Any]:
    answer = client.get(
        f"/v1/customers/{customer_id}/risk", params={"as_of": AS_OF}, headers=bearer(key)
    )
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


def test_a_changed_customer_is_scored_again_before_it_is_asked(
    scoring: tuple[TestClient, dict[str, str]],
    chosen: list[str],
    client_for: Callable[[Settings], TestClient],
) -> None:
    worker, keys = scoring
    state = worker.app.state  # type: ignore[attr-defined]
    settings: Settings = state.settings
    other = client_for(settings)  # a second worker on the same database
    # driven by hand (the settings turn the background rounds off), one round at a time
    warmer = AnswerWarmer(state.store, state.holder, answer_cache_for(state), settings, 1.0)
    state.answer_warmer = warmer  # the route notes its questions here
    asked, untouched = chosen[0], chosen[1]
    _settle(worker, chosen, seconds_ago=10)
    before = _risk(worker, keys["score"], asked)
    assert worker.portal.call(warmer.warm_once) == 0  # the first round only takes a watermark

    # through the other worker: the riskiest open invoice of `asked` is paid, and an
    # invoice of `untouched` (never asked about) changes
    stored = state.store.load().invoices.set_index("invoice_id")
    paid = before["customer"]["invoices"][0]["invoice_id"]
    other_invoice = stored.index[stored["customer_id"] == untouched][0]
    for invoice_id, change in ((paid, {"paid_date": AS_OF}), (other_invoice, {"amount": 1.5})):
        row = records(stored.loc[[invoice_id]].reset_index())[0]
        body = {key: value for key, value in row.items() if key != "invoice_id"} | change
        put = other.put(f"/v1/invoices/{invoice_id}", json=body, headers=bearer(keys["ingest"]))
        assert put.status_code == 200, put.text
    _settle(worker, chosen, seconds_ago=3)  # later than before: the revision moved

    assert worker.portal.call(warmer.warm_once) == 1  # `asked` only
    cache = state.score_cache
    hits, misses = cache.hits, cache.misses
    after = _risk(worker, keys["score"], asked)
    assert (cache.hits, cache.misses) == (hits + 1, misses)  # answered from the cache
    assert after["customer"]["open_invoices"] == before["customer"]["open_invoices"] - 1
    cold = client_for(settings.model_copy(update={"score_cache_entries": 0}))
    assert after == _risk(cold, keys["score"], asked)  # what a cold computation says
    assert worker.portal.call(warmer.warm_once) == 0  # nothing new: nothing scored again


def test_asked_keys_remember_recent_questions_of_the_served_model() -> None:
    now = [0.0]
    asked = AskedKeys(max_customers=2, remember_seconds=60, clock=lambda: now[0])

    class Served:
        name, version, loaded_at = "payment-risk", "3", "t0"

    question = ("payment-risk", "3", "t0", date(2026, 11, 30), "en")
    old_model = ("payment-risk", "2", "t-1", date(2026, 11, 30), "en")
    asked.note(question, "A")
    asked.note(old_model, "A")
    asked.note(question, "B")
    assert asked.recent("A", Served()) == [question]  # type: ignore[arg-type]
    asked.note(question, "C")  # A is the least recently asked: forgotten
    assert "A" not in asked and "B" in asked
    now[0] = 61.0
    assert asked.recent("B", Served()) == []  # type: ignore[arg-type]
