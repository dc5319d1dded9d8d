"""Two workers of one ``payrisk serve`` sharing their answers (``serving.shared_answers``),
SQLite and PostgreSQL: an answer one computed is the other's hit, byte for byte; a
warmer leaves to the other worker what that one is computing, and finds it done next
round; a question waits for the answer another worker is computing instead of computing
it again."""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient

from payrisk.settings import Settings
from serving.answer_warmer import AnswerWarmer
from serving.routes import scores as score_routes
from tests.serving.conftest import (
    AS_OF,
    ask_during_a_round,
    ask_risk,
    bearer,
    change_an_invoice,
    hand_driven_warmer,
    settle,
)


@pytest.fixture
def two_workers(
    scoring: tuple[TestClient, dict[str, str]],
    client_for: Callable[[Settings], TestClient],
    tmp_path: Path,
) -> tuple[TestClient, TestClient, dict[str, str]]:
    """Two apps on the session ledger that share one answers file, and the keys."""
    worker, keys = scoring
    settings: Settings = worker.app.state.settings  # type: ignore[attr-defined]
    shared = settings.model_copy(update={"shared_answers_path": tmp_path / "answers.sqlite"})
    return client_for(shared), client_for(shared), keys


def asked_then_changed(
    askers: list[TestClient],
    warmers: Sequence[AnswerWarmer],
    writer: TestClient,
    keys: dict[str, str],
    chosen: list[str],
) -> str:
    """The first chosen customer, asked of each of ``askers`` (noted by its warmer, whose
    first round takes its watermark), then changed through ``writer``."""
    asked = chosen[0]
    settle(writer, chosen, seconds_ago=10)
    for worker, warmer in zip(askers, warmers, strict=True):
        ask_risk(worker, keys["score"], asked)
        assert worker.portal.call(warmer.warm_once) == 0
    change_an_invoice(writer, keys["ingest"], asked)
    settle(writer, chosen, seconds_ago=3)
    return asked


def test_an_answer_one_worker_computed_is_the_others_hit(
    two_workers: tuple[TestClient, TestClient, dict[str, str]], chosen: list[str]
) -> None:
    first, second, keys = two_workers
    settle(first, chosen)
    asked = chosen[0]
    computed = first.get(
        f"/v1/customers/{asked}/risk", params={"as_of": AS_OF}, headers=bearer(keys["score"])
    )
    assert computed.headers["X-Payrisk-Cache"] == "miss"
    shared = second.get(
        f"/v1/customers/{asked}/risk", params={"as_of": AS_OF}, headers=bearer(keys["score"])
    )
    assert shared.headers["X-Payrisk-Cache"] == "hit"
    assert shared.content == computed.content
    assert ask_risk(second, keys["score"], chosen[1])[0] == "miss"  # only what was computed

    change_an_invoice(first, keys["ingest"], asked)
    settle(first, chosen, seconds_ago=3)
    assert ask_risk(second, keys["score"], asked)[0] == "miss"  # a new revision: no hit


def test_a_warmer_leaves_to_another_worker_what_that_one_is_computing(
    two_workers: tuple[TestClient, TestClient, dict[str, str]],
    chosen: list[str],
    monkeypatch: Any,
) -> None:
    first, second, keys = two_workers
    warmers = hand_driven_warmer(first), hand_driven_warmer(second)
    asked = asked_then_changed([first, second], warmers, first, keys, chosen)

    shared = second.app.state.shared_answers  # type: ignore[attr-defined]
    real_claim = shared.claim
    monkeypatch.setattr(shared, "claim", lambda found: [False] * len(found))  # first has it
    assert second.portal.call(warmers[1].warm_once) == 0
    assert asked in warmers[1]._pending  # looked at again next round
    assert first.portal.call(warmers[0].warm_once) == 1
    monkeypatch.setattr(shared, "claim", real_claim)
    assert second.portal.call(warmers[1].warm_once) == 0  # the first worker's answer is kept
    assert ask_risk(second, keys["score"], asked)[0] == "hit"


def test_a_question_waits_for_the_answer_another_worker_is_computing(
    two_workers: tuple[TestClient, TestClient, dict[str, str]],
    chosen: list[str],
    monkeypatch: Any,
) -> None:
    first, second, keys = two_workers
    warmer = hand_driven_warmer(first)
    asked = asked_then_changed([first], [warmer], second, keys, chosen)

    # the first worker's warmer computes behind a gate; the second worker is asked meanwhile
    monkeypatch.setattr(score_routes, "LONGEST_WAIT_ELSEWHERE_SECONDS", 60.0)  # a slow machine
    shared = second.app.state.shared_answers  # type: ignore[attr-defined]
    looked = threading.Event()
    claimed_elsewhere = shared.claimed_elsewhere

    def seen(key: str) -> bool:
        found: bool = claimed_elsewhere(key)
        if found:
            looked.set()
        return found

    monkeypatch.setattr(shared, "claimed_elsewhere", seen)
    outcome = ask_during_a_round(first, warmer, second, (keys["score"], asked), looked, monkeypatch)
    assert outcome.warmed == 1
    # not kept when asked, not computed twice
    assert outcome.cache == "miss" and outcome.computed_by_questions == 0
    assert outcome.answer == ask_risk(first, keys["score"], asked)[1]
