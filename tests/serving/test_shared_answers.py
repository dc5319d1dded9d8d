"""The answers the workers of one ``payrisk serve`` share (``serving.shared_answers``):
what one worker stores the other finds; a claim keeps a second worker from computing the
same answer, and lapses; old and surplus answers go; a broken file answers "nothing
here" and says so once; a question waits for another worker's answer.
"""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path
from typing import Any

import pytest

from payrisk.commands.serve import _shared_answers
from serving.shared_answers import CLAIM_SECONDS, PRUNE_EVERY, SharedAnswers
from tests.serving.conftest import run_on_own_loop

ANSWER = ("high", b'{"customer": "C1"}')


def pair(path: Path, now: list[float], max_entries: int = 8) -> tuple[SharedAnswers, ...]:
    """Two workers' views of one file, on one hand-driven clock."""
    return tuple(
        SharedAnswers(path, max_entries, max_age_seconds=60, clock=lambda: now[0], owner=owner)
        for owner in ("first", "second")
    )


def test_an_answer_stored_by_one_worker_is_found_by_the_other_until_it_expires(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    first, second = pair(tmp_path / "answers.sqlite", now)
    assert second.get("k") is None
    first.put("k", ANSWER)
    assert second.get("k") == ANSWER
    assert second.get("other key") is None
    now[0] += 60.5
    assert second.get("k") is None


def test_a_claim_holds_against_other_workers_until_released_stored_or_lapsed(
    tmp_path: Path,
) -> None:
    now = [1000.0]
    first, second = pair(tmp_path / "answers.sqlite", now)
    assert first.claim(["a", "b"]) == [True, True]
    assert first.claim(["a"]) == [False]  # its own claim holds too: computed once
    assert second.claim(["a", "b", "c"]) == [False, False, True]
    assert second.claimed_elsewhere("a") and not first.claimed_elsewhere("a")
    first.put("a", ANSWER)  # storing the answer ends the claim
    first.release(["b"])
    assert not second.claimed_elsewhere("a") and not second.claimed_elsewhere("b")
    assert second.claim(["a", "b"]) == [True, True]
    now[0] += CLAIM_SECONDS + 0.1  # second's claims lapse: it died mid-computation
    assert first.claim(["b", "c"]) == [True, True]


def test_pruning_drops_expired_answers_then_the_oldest_beyond_the_bound(tmp_path: Path) -> None:
    now = [1000.0]
    first, second = pair(tmp_path / "answers.sqlite", now, max_entries=PRUNE_EVERY - 10)
    first.put("old", ANSWER)
    now[0] += 61  # "old" has expired
    for number in range(PRUNE_EVERY - 1):  # the last of these writes prunes
        now[0] += 0.001
        first.put(f"k{number}", ANSWER)
    assert len(second) == PRUNE_EVERY - 10
    now[0] -= 61  # "old" would be young again: it went, it did not only expire
    assert second.get("old") is None
    assert second.get(f"k{PRUNE_EVERY - 2}") == ANSWER  # the newest stay
    assert second.get("k0") is None  # the oldest went


def test_a_broken_file_shares_nothing_claims_everything_and_warns_once(
    tmp_path: Path, caplog: Any
) -> None:
    shared = SharedAnswers(tmp_path / "no-such-folder" / "answers.sqlite", 8, 60)
    with caplog.at_level(logging.WARNING, logger="serving.shared_answers"):
        shared.put("k", ANSWER)
        assert shared.get("k") is None
        assert shared.claim(["k", "j"]) == [True, True]
        assert not shared.claimed_elsewhere("k")
    warnings = [r for r in caplog.records if r.name == "serving.shared_answers"]
    assert len(warnings) == 1 and "no-such-folder" in warnings[0].fields["path"]


def test_a_question_waits_for_the_answer_another_worker_is_computing(tmp_path: Path) -> None:
    """Claims on a stopped clock never lapse: a wait ends only by the answer, by there being
    no claim, or by ``longest_seconds`` (each bounded here far below the others)."""
    computing, asking = pair(tmp_path / "answers.sqlite", [1000.0])

    async def scenario() -> tuple[Any, Any, Any]:
        assert computing.claim(["k"]) == [True]
        waiting = asyncio.ensure_future(asking.wait_for("k", longest_seconds=3600))
        await asyncio.sleep(0)  # the question is waiting now
        assert not waiting.done()
        computing.put("k", ANSWER)
        answered = await asyncio.wait_for(waiting, timeout=30)
        # nobody computes "j": at once, not after an hour
        unclaimed = await asyncio.wait_for(asking.wait_for("j", 3600), timeout=30)
        computing.claim(["j"])  # claimed, never stored, never lapsing: gives up in 0.02 s
        gave_up = await asyncio.wait_for(asking.wait_for("j", 0.02), timeout=30)
        return answered, unclaimed, gave_up

    assert run_on_own_loop(scenario()) == (ANSWER, None, None)


@pytest.mark.parametrize("workers", [1, 2])
def test_serve_makes_the_shared_file_for_several_workers_and_removes_it(
    workers: int, monkeypatch: Any
) -> None:
    monkeypatch.delenv("PAYRISK_SHARED_ANSWERS_PATH", raising=False)
    with _shared_answers(None, workers):
        found = os.environ.get("PAYRISK_SHARED_ANSWERS_PATH")
        if workers == 1:
            assert found is None
        else:
            assert found is not None and Path(found).parent.is_dir()
            SharedAnswers(Path(found), 8, 60).put("k", ANSWER)  # the workers can use it
    assert "PAYRISK_SHARED_ANSWERS_PATH" not in os.environ
    if found is not None:
        assert not Path(found).parent.exists()
    with _shared_answers(Path("/operator/chose/this.sqlite"), workers):
        assert "PAYRISK_SHARED_ANSWERS_PATH" not in os.environ  # the settings say it already
