"""Lanes (``serving.lanes``): heavy routes compute a few at a time per worker, the rest
wait without a thread, and routes outside the lane are never held up by them."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from typing import Any

import httpx2 as httpx
import pytest
from fastapi.testclient import TestClient

from payrisk.settings import Settings
from serving.lanes import Lane
from serving.routes import worklist as worklist_routes
from tests.serving.conftest import run_on_own_loop


def test_a_lane_holds_at_most_its_size_and_serves_in_arrival_order() -> None:
    lane = Lane("test", 2)
    order: list[int] = []
    inside = 0
    most_inside = 0

    async def hold(number: int, release: asyncio.Event) -> None:
        nonlocal inside, most_inside
        async with lane.hold():
            order.append(number)
            inside += 1
            most_inside = max(most_inside, inside)
            await release.wait()
            inside -= 1

    async def scenario() -> tuple[int, int]:
        release = asyncio.Event()
        tasks = [asyncio.create_task(hold(number, release)) for number in range(5)]
        await asyncio.sleep(0)  # every task reaches the lane
        await asyncio.sleep(0)
        waiting_while_held = lane.waiting
        tasks[4].cancel()  # a waiter that gives up leaves no slot taken
        release.set()
        await asyncio.gather(*tasks, return_exceptions=True)
        return waiting_while_held, lane.waiting

    waiting_while_held, waiting_after = run_on_own_loop(scenario())
    assert (waiting_while_held, waiting_after) == (3, 0)
    assert most_inside == 2
    assert order == [0, 1, 2, 3]


def test_a_lane_needs_room_for_one() -> None:
    with pytest.raises(ValueError, match="size must be at least 1"):
        Lane("empty", 0)


def test_worklist_requests_queue_in_the_bulk_lane_while_other_routes_answer(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    client = client_for(service_settings(bulk_lane_size=1))
    app, key = client.app, keys_for(client)["worklist"]
    entered, release = threading.Semaphore(0), threading.Event()
    computing = {"now": 0, "most": 0}
    real_build = worklist_routes.build_worklist

    def slow_build(*args: Any) -> Any:
        computing["now"] += 1
        computing["most"] = max(computing["most"], computing["now"])
        entered.release()
        release.wait(timeout=30)
        computing["now"] -= 1
        return real_build(*args)

    monkeypatch.setattr(worklist_routes, "build_worklist", slow_build)
    lane = app.state.lanes["bulk"]  # type: ignore[attr-defined]

    async def scenario() -> tuple[list[int], int, int, str]:
        transport = httpx.ASGITransport(app=app)
        headers = {"Authorization": f"Bearer {key}"}
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as http:
            pages = [asyncio.create_task(http.get("/v1/worklist", headers=headers)) for _ in (1, 2)]
            await asyncio.to_thread(entered.acquire)  # the first is computing
            for _ in range(2000):  # up to ~2 s for the second to reach the lane
                if lane.waiting:
                    break
                await asyncio.sleep(0.001)
            health = await http.get("/healthz")  # not in the lane: answered meanwhile
            waiting = lane.waiting
            scraped = (await http.get("/metrics")).text
            release.set()
            answers = await asyncio.gather(*pages)
        statuses = [health.status_code] + [page.status_code for page in answers]
        return statuses, waiting, lane.waiting, scraped

    statuses, waiting_during, waiting_after, scraped = run_on_own_loop(scenario())
    assert 'payrisk_lane_waiting{lane="bulk"} 1.0' in scraped
    assert 'payrisk_lane_waiting{lane="ingest"} 0.0' in scraped
    assert statuses == [200, 200, 200]
    assert (waiting_during, waiting_after) == (1, 0)
    assert computing["most"] == 1  # never two worklists at once in this worker
