"""The model holder against a real temporary MLflow store: load, reload, broken, poll."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from models.registry import CHAMPION_ALIAS, set_alias
from serving.model_holder import ModelHolder, ReloadOutcome, check_model

RegisterCopy = Callable[..., tuple[str, str]]
MakeHolder = Callable[..., ModelHolder]


@pytest.fixture
def holders() -> Iterator[MakeHolder]:
    """Make holders; every one is stopped after the test."""
    made: list[ModelHolder] = []

    def make(tracking_uri: str, name: str, poll_seconds: float = 0.0) -> ModelHolder:
        holder = ModelHolder(tracking_uri, name, CHAMPION_ALIAS, poll_seconds=poll_seconds)
        made.append(holder)
        return holder

    yield make
    for holder in made:
        holder.stop()


def test_no_champion_means_not_ready_with_the_reason(registry: Any, holders: MakeHolder) -> None:
    holder = holders(registry.tracking_uri, "no-such-model")
    outcome = holder.start()
    status = holder.status()
    assert outcome.outcome == "failed"
    assert holder.current() is None and not status.ready
    assert "no registered model 'no-such-model'" in (status.last_error or "")
    assert status.reload_failures == 0  # nothing was there to load


def test_loads_the_champion_and_checks_it(registry: Any, holders: MakeHolder) -> None:
    holder = holders(registry.tracking_uri, registry.model_name)
    outcome = holder.start()
    snapshot = holder.current()
    assert outcome.outcome == "loaded"
    assert snapshot is not None
    assert (snapshot.name, snapshot.version, snapshot.run_id) == (
        registry.model_name,
        registry.version,
        registry.run_id,
    )
    assert snapshot.model_uri == f"models:/{registry.model_name}/{registry.version}"
    assert holder.status().last_error is None
    check_model(snapshot.model)


def test_reload_swaps_when_the_alias_moves_and_old_snapshots_stay_intact(
    registry: Any, holders: MakeHolder, register_copy: RegisterCopy
) -> None:
    name, first = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, first)
    holder = holders(registry.tracking_uri, name)
    holder.start()
    in_flight = holder.current()
    _, second = register_copy()
    unchanged = holder.reload()
    set_alias(registry.client(), name, CHAMPION_ALIAS, second)

    swapped = holder.reload()

    assert unchanged.outcome == "unchanged"
    assert swapped == ReloadOutcome("loaded", second, first, second)
    assert in_flight is not None and in_flight.version == first
    current = holder.current()
    assert current is not None and current.version == second
    assert current.model is not in_flight.model
    check_model(in_flight.model)  # a request that began on the old model can still finish


def test_a_broken_version_keeps_the_old_model_serving(
    registry: Any, holders: MakeHolder, register_copy: RegisterCopy, broken_model_uri: str
) -> None:
    name, good = register_copy()
    _, broken = register_copy(broken_model_uri)
    client = registry.client()
    set_alias(client, name, CHAMPION_ALIAS, good)
    holder = holders(registry.tracking_uri, name)
    holder.start()
    set_alias(client, name, CHAMPION_ALIAS, broken)

    failed = holder.reload()
    polled = holder.poll_once()
    status = holder.status()

    assert (failed.outcome, failed.serving_version, failed.attempted_version) == (
        "failed",
        good,
        broken,
    )
    assert polled.outcome == "skipped"  # the poller does not retry the same broken version
    assert status.version == good and status.reload_failures == 1
    assert f"cannot load version {broken} of '{name}'" in (status.last_error or "")
    assert holder.reload().outcome == "failed"  # an explicit reload always tries again
    assert holder.status().reload_failures == 2

    set_alias(client, name, CHAMPION_ALIAS, good)
    assert holder.poll_once().outcome == "unchanged"
    assert holder.status().last_error is None


def test_the_poller_picks_up_an_alias_move(
    registry: Any, holders: MakeHolder, register_copy: RegisterCopy
) -> None:
    name, first = register_copy()
    _, second = register_copy()
    client = registry.client()
    set_alias(client, name, CHAMPION_ALIAS, first)
    holder = holders(registry.tracking_uri, name, poll_seconds=0.05)
    loaded = threading.Event()
    real_poll = holder.poll_once

    def poll_and_signal() -> ReloadOutcome:
        outcome = real_poll()
        if outcome.outcome == "loaded":
            loaded.set()
        return outcome

    holder.poll_once = poll_and_signal  # type: ignore[method-assign]
    assert holder.start().serving_version == first
    set_alias(client, name, CHAMPION_ALIAS, second)

    assert loaded.wait(timeout=60), "the poller did not load the new version"
    current = holder.current()
    assert current is not None and current.version == second
    holder.stop()
    assert holder._poller is None
