"""Refresh-ahead of stored-mode answers (``serving.answer_warmer``), SQLite and PostgreSQL:
a customer asked about, then changed through another worker, is answered from the cache
next time, with exactly the answer a cold computation gives; one never asked is not
scored ahead."""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from datetime import date
from types import SimpleNamespace
from typing import Any

from fastapi.testclient import TestClient

from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.answer_cache import AnswerCache
from serving.answer_warmer import AnswerWarmer, AskedKeys
from serving.score_cache import ScoreCache
from tests.serving.conftest import (
    AS_OF,
    ask_during_a_round,
    ask_risk,
    bearer,
    change_an_invoice,
    hand_driven_warmer,
    records,
    run_on_own_loop,
    settle,
)
from tests.serving.test_ingest import CUSTOMER


def test_a_changed_customer_is_scored_again_before_it_is_asked(
    scoring: tuple[TestClient, dict[str, str]],
    chosen: list[str],
    client_for: Callable[[Settings], TestClient],
) -> None:
    worker, keys = scoring
    state = worker.app.state  # type: ignore[attr-defined]
    settings: Settings = state.settings
    other = client_for(settings)  # a second worker on the same database
    warmer = hand_driven_warmer(worker)
    asked, untouched = chosen[0], chosen[1]
    settle(worker, chosen, seconds_ago=10)
    before = ask_risk(worker, keys["score"], asked)[1]
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
    settle(worker, chosen, seconds_ago=3)  # later than before: the revision moved

    assert worker.portal.call(warmer.warm_once) == 1  # `asked` only
    cache = state.score_cache
    hits, misses = cache.hits, cache.misses
    after = ask_risk(worker, keys["score"], asked)[1]
    assert (cache.hits, cache.misses) == (hits + 1, misses)  # answered from the cache
    assert after["customer"]["open_invoices"] == before["customer"]["open_invoices"] - 1
    cold = client_for(settings.model_copy(update={"score_cache_entries": 0}))
    assert after == ask_risk(cold, keys["score"], asked)[1]  # what a cold computation says
    assert worker.portal.call(warmer.warm_once) == 0  # nothing new: nothing scored again


def test_asked_keys_remember_recent_questions_of_the_served_model() -> None:
    now = [0.0]
    asked = AskedKeys(max_customers=2, remember_seconds=60, clock=lambda: now[0])

    class Served:
        name, version, identity = "payment-risk", "3", "t0"

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


def test_peeking_at_the_cache_neither_counts_nor_refreshes_an_entry() -> None:
    now = [0.0]
    cache: ScoreCache[str] = ScoreCache(max_entries=2, max_age_seconds=60, clock=lambda: now[0])
    cache.put("a", "A")
    cache.put("b", "B")
    assert (cache.peek("a"), cache.peek("z")) == ("A", None)
    assert (cache.hits, cache.misses) == (0, 0)
    cache.put("c", "C")  # "a" was only peeked at: still the least recently used
    assert (cache.peek("a"), cache.peek("b")) == (None, "B")
    now[0] = 61.0
    assert cache.peek("b") is None  # expired


def test_a_failing_round_is_logged_once_per_outage(
    tmp_path: Any, caplog: Any, service_settings: Callable[..., Settings]
) -> None:
    """The database is away: every round fails, one warning says why, the task goes on."""
    settings = service_settings()
    missing = LedgerStore.from_url(f"sqlite:///{tmp_path / 'no-such-dir' / 'payrisk.db'}")
    cache = AnswerCache(ScoreCache(8), ScoreCache(8))
    served = SimpleNamespace(name="payment-risk", version="1", identity=None)
    holder = SimpleNamespace(current=lambda: served)  # "a model is served"
    warmer = AnswerWarmer(missing, holder, cache, settings, interval_seconds=0.001)  # type: ignore[arg-type]
    failures = 0

    async def rounds() -> None:
        nonlocal failures
        original = warmer.warm_once

        async def counted() -> int:
            nonlocal failures
            try:
                return await original()
            except Exception:
                failures += 1
                raise

        warmer.warm_once = counted  # type: ignore[method-assign]
        task = asyncio.create_task(warmer.run())
        while failures < 5:
            await asyncio.sleep(0.001)
        task.cancel()

    with caplog.at_level(logging.WARNING, logger="serving.answer_warmer"):
        run_on_own_loop(rounds())
    warnings = [record for record in caplog.records if record.name == "serving.answer_warmer"]
    assert failures >= 5 and len(warnings) == 1
    assert "cannot read" in str(warnings[0].__dict__.get("fields", {}).get("error"))


def test_a_wake_starts_a_round_at_once_not_at_the_interval() -> None:
    async def rounds_after_wakes() -> int:
        rounds: asyncio.Queue[int] = asyncio.Queue()

        class Counting(AnswerWarmer):
            async def warm_once(self) -> int:
                rounds.put_nowait(1)
                return 0

        cache = SimpleNamespace(answers=SimpleNamespace(max_entries=8))
        settings = SimpleNamespace(score_cache_max_age_seconds=60.0)
        warmer = Counting(None, None, cache, settings, interval_seconds=3600)  # type: ignore[arg-type]
        running = asyncio.create_task(warmer.run())
        await asyncio.sleep(0)  # run() is waiting for its interval now
        for _ in range(2):
            warmer.wake()
            await asyncio.wait_for(rounds.get(), timeout=30)  # not after an hour
        running.cancel()
        return rounds.qsize()

    assert run_on_own_loop(rounds_after_wakes()) == 0  # one round per wake, no more


def test_an_accepted_write_wakes_the_workers_warmer_with_its_customers(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    client = client_for(service_settings(score_warm_seconds=3600))
    warmer = client.app.state.answer_warmer  # type: ignore[attr-defined]
    wakes: list[set[str]] = []
    warmer.wake = lambda written: wakes.append(set(written))
    headers = bearer(keys_for(client)["ingest"])
    assert client.put("/v1/customers/c1", json=CUSTOMER, headers=headers).status_code == 200
    assert wakes == [{"c1"}]
    refused = client.put(
        "/v1/customers/c1", json={**CUSTOMER, "country": "Israel"}, headers=headers
    )
    assert refused.status_code == 422 and wakes == [{"c1"}]  # nothing stored: nothing to warm


def test_a_workers_own_write_is_scored_first_without_the_changes_query(
    scoring: tuple[TestClient, dict[str, str]], chosen: list[str]
) -> None:
    """The round scores the customers this worker just wrote before it asks the database
    what changed: here that query finds nothing, and the answer is warmed all the same."""
    worker, keys = scoring
    warmer = hand_driven_warmer(worker)
    asked = chosen[0]
    settle(worker, chosen, seconds_ago=10)
    before = ask_risk(worker, keys["score"], asked)[1]
    assert worker.portal.call(warmer.warm_once) == 0  # the first round only takes a watermark

    invoice = before["customer"]["invoices"][0]["invoice_id"]
    stored = worker.app.state.store.load().invoices.set_index("invoice_id")  # type: ignore[attr-defined]
    row = records(stored.loc[[invoice]].reset_index())[0]
    body = {key: value for key, value in row.items() if key != "invoice_id"} | {"amount": 7.5}
    put = worker.put(f"/v1/invoices/{invoice}", json=body, headers=bearer(keys["ingest"]))
    assert put.status_code == 200, put.text
    settle(worker, chosen, seconds_ago=3)
    warmer._changed_customers = set  # type: ignore[method-assign]  # "nothing changed"

    assert worker.portal.call(warmer.warm_once) == 1
    header, after = ask_risk(worker, keys["score"], asked)
    assert header == "hit" and after != before
    assert worker.portal.call(warmer.warm_once) == 0  # written once, scored once


def test_a_question_about_an_answer_being_warmed_waits_for_it(
    scoring: tuple[TestClient, dict[str, str]],
    chosen: list[str],
    client_for: Callable[[Settings], TestClient],
    monkeypatch: Any,
) -> None:
    worker, keys = scoring
    settings: Settings = worker.app.state.settings  # type: ignore[attr-defined]
    warmer = hand_driven_warmer(worker)
    asked = chosen[0]
    settle(worker, [asked], seconds_ago=10)
    ask_risk(worker, keys["score"], asked)  # noted: the warmer will score it again
    assert worker.portal.call(warmer.warm_once) == 0  # the watermark
    change_an_invoice(client_for(settings), keys["ingest"], asked)  # through another worker
    settle(worker, [asked], seconds_ago=3)

    waiting = threading.Event()

    def seen(*args: Any) -> Any:
        found = AnswerWarmer.warming(warmer, *args)
        if found is not None:
            waiting.set()
        return found

    monkeypatch.setattr(warmer, "warming", seen)
    outcome = ask_during_a_round(
        worker, warmer, worker, (keys["score"], asked), waiting, monkeypatch
    )
    assert outcome.warmed == 1
    # not in the cache when asked, not computed twice
    assert outcome.cache == "miss" and outcome.computed_by_questions == 0
    cold = client_for(settings.model_copy(update={"score_cache_entries": 0}))
    assert outcome.answer == ask_risk(cold, keys["score"], asked)[1]
