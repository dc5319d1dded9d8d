"""Micro-batching of stored-mode misses: the batcher's rules, and a batched answer is
byte for byte the answer the same customer gets alone (also over HTTP, concurrently)."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable, Sequence
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.frames import Ledger
from payrisk.settings import Settings
from serving.answers import customer_answer, score_misses
from serving.errors import ApiError
from serving.ledger_reads import read_customers
from serving.micro_batch import MicroBatcher
from serving.scoring import AsOfOutOfRange, data_start_by_customer, open_invoice_rows
from tests.serving.conftest import run_on_own_loop

AS_OF = "2026-11-30"


def _doubles(calls: list[list[int]]) -> Callable[[Sequence[int]], list[int | Exception]]:
    def compute(items: Sequence[int]) -> list[int | Exception]:
        calls.append(list(items))
        return [ValueError(f"odd {item}") if item % 2 else item * 2 for item in items]

    return compute


async def _submit_all(
    batcher: MicroBatcher[int, int], groups: list[str], compute: Any
) -> list[int | BaseException]:
    tasks = [batcher.submit(group, item, compute) for item, group in enumerate(groups)]
    return await asyncio.gather(*tasks, return_exceptions=True)


def test_concurrent_items_share_a_batch_bounded_by_size_and_group() -> None:
    calls: list[list[int]] = []
    batcher: MicroBatcher[int, int] = MicroBatcher(max_batch=3, max_wait_seconds=0.05)
    groups = ["a", "a", "b", "a", "a", "b"]
    results = run_on_own_loop(_submit_all(batcher, groups, _doubles(calls)))

    # items 0,1,3 (group a, at most 3), then the oldest left: 2,5 (b), then 4 (a)
    assert calls == [[0, 1, 3], [2, 5], [4]]
    assert [r for r in results if not isinstance(r, BaseException)] == [0, 4, 8]
    # an item's own error goes to its caller only
    assert [str(r) for r in results if isinstance(r, BaseException)] == ["odd 1", "odd 3", "odd 5"]


def test_a_failing_batch_fails_each_of_its_callers() -> None:
    def broken(items: Sequence[int]) -> list[int | Exception]:
        raise OSError(f"database gone for {list(items)}")

    batcher: MicroBatcher[int, int] = MicroBatcher(max_batch=8)
    results = run_on_own_loop(_submit_all(batcher, ["g"] * 3, broken))
    assert [type(r) for r in results] == [OSError] * 3


def test_a_lone_item_does_not_wait_for_a_full_batch() -> None:
    calls: list[list[int]] = []
    batcher: MicroBatcher[int, int] = MicroBatcher(max_batch=100, max_wait_seconds=30.0)

    async def one() -> int:
        return await asyncio.wait_for(batcher.submit("g", 2, _doubles(calls)), timeout=29)

    with pytest.raises(TimeoutError):  # bounded by max_wait_seconds, not by max_batch
        run_on_own_loop(one())
    batcher.max_wait_seconds = 0.01
    assert run_on_own_loop(one()) == 4


def test_bad_bounds_are_refused() -> None:
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(max_batch=0)
    with pytest.raises(ValueError, match="max_wait_seconds"):
        MicroBatcher(max_batch=1, max_wait_seconds=-1)


@pytest.fixture
def served(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
) -> tuple[FastAPI, list[str]]:
    """An app serving the session champion on SQLite, with the whole session ledger."""
    client = client_for(service_settings(mlflow_tracking_uri=registry.tracking_uri))
    app = client.app
    assert isinstance(app, FastAPI)
    ledger: Ledger = registry.ledger
    app.state.store.upsert(ledger)
    open_ids = open_invoice_rows(ledger, pd.Timestamp(AS_OF))["invoice_id"]
    with_open = ledger.invoices[ledger.invoices["invoice_id"].isin(open_ids)]["customer_id"]
    quiet = sorted(set(ledger.customers["customer_id"]) - set(with_open))
    return app, [*sorted(set(with_open.astype(str))), *quiet[:1]]


def test_a_batched_answer_is_the_answer_alone(served: tuple[FastAPI, list[str]]) -> None:
    """Every customer with something open, in one batch (as large as a refresh): sums
    and expected days late once differed in the last digit with the batch's size."""
    app, customers = served
    store, settings, snapshot = app.state.store, app.state.settings, app.state.holder.current()
    when = pd.Timestamp(AS_OF).date()
    misses = [*customers, "NOBODY"]

    batched = score_misses(store, snapshot, settings, when, "he", misses)

    for customer_id, answer in zip(customers, batched, strict=False):
        alone = customer_answer(
            snapshot, settings, read_customers(store, [customer_id]), customer_id, when, "he"
        )
        assert not isinstance(answer, Exception)
        assert answer == (alone.customer.risk_tier, alone.model_dump_json().encode())
    assert isinstance(batched[-1], ApiError) and batched[-1].status_code == 404


def test_an_as_of_before_a_customers_data_refuses_only_that_customer(
    served: tuple[FastAPI, list[str]],
) -> None:
    app, customers = served
    store, settings, snapshot = app.state.store, app.state.settings, app.state.holder.current()
    starts = data_start_by_customer(read_customers(store, customers))
    early, late = starts.idxmin(), starts.idxmax()
    when = (starts[late] - pd.Timedelta(days=1)).date()  # before late's data, after early's
    assert starts[early].date() <= when
    misses = [late, early]

    refused, answered = score_misses(store, snapshot, settings, when, "en", misses)

    with pytest.raises(AsOfOutOfRange) as alone:
        customer_answer(snapshot, settings, read_customers(store, [late]), late, when, "en")
    assert isinstance(refused, AsOfOutOfRange) and str(refused) == str(alone.value)
    assert not isinstance(answered, Exception)
    assert json.loads(answered[1])["customer"]["customer_id"] == early


async def _get(app: FastAPI, path: str, key: str) -> tuple[int, bytes]:
    headers = [(b"host", b"test"), (b"authorization", f"Bearer {key}".encode())]
    path_only, _, query = path.partition("?")
    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": path_only,
        "raw_path": path_only.encode(),
        "query_string": query.encode(),
        "headers": headers,
        "client": ("127.0.0.1", 1),
        "server": ("test", 80),
        "root_path": "",
    }
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": b"", "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent[0]["status"], b"".join(message.get("body", b"") for message in sent[1:])


def test_concurrent_requests_are_batched_and_answer_as_alone(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    client = client_for(
        service_settings(mlflow_tracking_uri=registry.tracking_uri, score_cache_entries=0)
    )
    app = client.app
    assert isinstance(app, FastAPI)
    app.state.store.upsert(registry.ledger)
    key = keys_for(client)["score"]
    customers = sorted(set(registry.ledger.customers["customer_id"].astype(str)))[:8]
    paths = [f"/v1/customers/{customer_id}/risk?as_of={AS_OF}" for customer_id in customers]

    async def together() -> tuple[list[tuple[int, bytes]], int]:
        answers = await asyncio.gather(*(_get(app, path, key) for path in paths))
        batcher = app.state.miss_batchers.get()  # this loop's
        return list(answers), batcher.batches

    answers, batches = run_on_own_loop(together())
    alone = [client.get(path, headers={"Authorization": f"Bearer {key}"}) for path in paths]

    assert batches < len(paths)  # they were scored together, not one by one
    assert [status for status, _ in answers] == [200] * len(paths)
    assert [body for _, body in answers] == [response.content for response in alone]
