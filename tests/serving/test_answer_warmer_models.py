"""The answer warmer when the served model is new to it (``serving.answer_warmer``, step 0):
at a worker's first model it scores the newest refresh's customers ahead; after a swap it
asks the old model's recent questions again of the new one. Either way the next question
is answered from the cache, with exactly what a cold computation says."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import pandas as pd
from fastapi.testclient import TestClient

from ledger.scores_store import latest_refresh_customers, write_scores
from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.answer_warmer import AskedKeys
from tests.serving.conftest import (
    AS_OF,
    ask_risk,
    bearer,
    hand_driven_warmer,
    settle,
    stored_scores,
)


def test_at_start_the_newest_refresh_is_scored_ahead(
    scoring: tuple[TestClient, dict[str, str]],
    chosen: list[str],
    client_for: Callable[[Settings], TestClient],
) -> None:
    worker, keys = scoring
    refreshed = worker.post(
        "/v1/scores:refresh", json={"as_of": AS_OF}, headers=bearer(keys["admin"])
    )
    assert refreshed.status_code == 200, refreshed.text
    settle(worker, chosen)
    warmer = hand_driven_warmer(worker)

    assert worker.portal.call(warmer.warm_once) == len(chosen)  # nobody asked yet
    answers = [ask_risk(worker, keys["score"], customer_id) for customer_id in chosen]
    assert [cache for cache, _ in answers] == ["hit"] * len(chosen)
    settings: Settings = worker.app.state.settings  # type: ignore[attr-defined]
    cold = client_for(settings.model_copy(update={"score_cache_entries": 0}))
    assert [body for _, body in answers] == [
        ask_risk(cold, keys["score"], customer_id)[1] for customer_id in chosen
    ]
    assert worker.portal.call(warmer.warm_once) == 0  # nothing changed since


def test_after_a_model_swap_recent_questions_are_asked_of_the_new_model(
    scoring: tuple[TestClient, dict[str, str]], chosen: list[str], monkeypatch: Any
) -> None:
    worker, keys = scoring
    state = worker.app.state  # type: ignore[attr-defined]
    settle(worker, chosen)
    warmer = hand_driven_warmer(worker)
    assert worker.portal.call(warmer.warm_once) == 0  # no refresh: nothing to ask ahead
    asked, never = chosen[0], chosen[1]
    assert ask_risk(worker, keys["score"], asked)[0] == "miss"

    old = state.holder.current()
    reloaded = dataclasses.replace(old, loaded_at=old.loaded_at + timedelta(seconds=1))
    monkeypatch.setattr(state.holder, "current", lambda: reloaded)  # the same run, reloaded
    assert worker.portal.call(warmer.warm_once) == 0  # its answers stand: nothing to redo
    assert ask_risk(worker, keys["score"], asked)[0] == "hit"

    new = dataclasses.replace(old, version="2", loaded_at=old.loaded_at + timedelta(seconds=2))
    monkeypatch.setattr(state.holder, "current", lambda: new)  # swapped to another version
    assert worker.portal.call(warmer.warm_once) == 1  # `asked` only, not `never`

    cache, body = ask_risk(worker, keys["score"], asked)
    assert (cache, body["model"]["version"]) == ("hit", "2")
    assert ask_risk(worker, keys["score"], never)[0] == "miss"


def test_carrying_questions_over_renames_them_and_keeps_their_time() -> None:
    now = [100.0]
    asked = AskedKeys(max_customers=8, remember_seconds=60, clock=lambda: now[0])
    old, new = ("payment-risk", "1", "t0"), ("payment-risk", "2", "t1")
    day, other_day = date(2026, 11, 30), date(2026, 12, 1)
    asked.note((*old, day, "en"), "A")
    now[0] = 130.0
    asked.note((*old, other_day, "he"), "A")
    asked.note((*new, day, "en"), "B")  # asked of the new model already: nothing moves
    now[0] = 150.0

    assert asked.carry_over(new) == ["A"]

    class Served:
        name, version, identity = new

    assert asked.recent("A", Served()) == [(*new, day, "en"), (*new, other_day, "he")]  # type: ignore[arg-type]
    assert asked.recent("B", Served()) == [(*new, day, "en")]  # type: ignore[arg-type]
    now[0] = 165.0  # the first question of A was asked 65 s ago: forgotten as before
    assert asked.recent("A", Served()) == [(*new, other_day, "he")]  # type: ignore[arg-type]
    assert asked.carry_over(new) == []  # nothing of another model is left


def test_the_newest_refresh_lists_its_riskiest_customers_first(tmp_path: Path) -> None:
    with LedgerStore.from_url(f"sqlite:///{tmp_path / 'scores.db'}") as store:
        store.migrate()
        assert latest_refresh_customers(store, 10) is None  # never scored
        older = stored_scores(as_of="2026-02-01").assign(customer_id=["X1", "X2", "X3"])
        write_scores(store, older, scored_at=datetime(2026, 2, 1, tzinfo=UTC))
        newest = stored_scores(as_of="2026-03-01")  # at risk: C1 4000, C2 300, C3 200
        second = newest.iloc[[2]].assign(invoice_id="I4", open_amount=2000.0)  # C3: 400 in all
        write_scores(
            store,
            pd.concat([newest, second], ignore_index=True),
            scored_at=datetime(2026, 3, 1, tzinfo=UTC),
        )

        assert latest_refresh_customers(store, 10) == (date(2026, 3, 1), ["C1", "C3", "C2"])
        assert latest_refresh_customers(store, 2) == (date(2026, 3, 1), ["C1", "C3"])


def test_a_refresh_after_the_start_is_scored_ahead(
    scoring: tuple[TestClient, dict[str, str]], chosen: list[str]
) -> None:
    worker, keys = scoring
    settle(worker, chosen)
    warmer = hand_driven_warmer(worker)
    assert worker.portal.call(warmer.warm_once) == 0  # no refresh yet: nothing to ask ahead

    refreshed = worker.post(
        "/v1/scores:refresh", json={"as_of": AS_OF}, headers=bearer(keys["admin"])
    )
    assert refreshed.status_code == 200, refreshed.text
    settle(worker, chosen)
    assert worker.portal.call(warmer.warm_once) == len(chosen)  # never asked, still ahead
    answers = [ask_risk(worker, keys["score"], customer_id)[0] for customer_id in chosen]
    assert answers == ["hit"] * len(chosen)
    assert worker.portal.call(warmer.warm_once) == 0  # the same refresh: not asked again
