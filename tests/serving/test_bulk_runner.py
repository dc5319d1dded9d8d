"""Bulk work in the workers' children (``serving.bulk_runner``): same answers, same errors.

One app computes its worklist, KPIs and pages in a child process (the default of
``payrisk serve``), another on the same database in its threads (what the other tests
use); their answers must be the same bytes.
"""

from __future__ import annotations

import os
import re
import signal
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient
from starlette.datastructures import State

from ledger.scores_store import write_scores
from ledger.store_errors import StoreUnavailable
from payrisk.settings import Settings
from serving.app import create_app
from serving.auth import SCOPES, create_key
from serving.bulk_runner import BulkRunner
from serving.errors import ApiError
from tests.serving.conftest import stored_scores
from tests.serving.test_worklist_routes import _ledger

AS_OF = "2026-03-01"
NICE = 7


class Unpicklable(Exception):
    def __init__(self, first: str, second: str) -> None:
        super().__init__(f"{first} and {second}")


def raise_operational_error(_store: object, _settings: object) -> None:
    raise sa.exc.OperationalError("SELECT 1", {}, Exception("connection refused"))


def raise_unpicklable(_store: object, _settings: object) -> None:
    raise Unpicklable("one", "two")


def child_pid(_store: object, _settings: object) -> int:
    return os.getpid()


def sleep_for(_store: object, _settings: object, seconds: float) -> None:
    time.sleep(seconds)


def _settings(tmp_path: Path, runner: str, **overrides: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data",
        database_url=f"sqlite:///{tmp_path / 'bulk.db'}",
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'no-mlflow' / 'mlflow.db'}",
        model_poll_seconds=0,
        api_key_cache_seconds=0,
        score_warm_seconds=0,
        session_cookie_secure=False,
        fx_rates={"ILS": 0.25},
        bulk_runner=runner,
        bulk_process_nice=NICE,
        **overrides,  # type: ignore[arg-type]
    )


@pytest.fixture(scope="module")
def apps(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[TestClient, TestClient, str]]:
    """(in a child, in threads, a key with every scope) on one SQLite ledger with scores."""
    tmp_path = tmp_path_factory.mktemp("bulk")
    in_child = TestClient(create_app(_settings(tmp_path, "process")))
    in_thread = TestClient(create_app(_settings(tmp_path, "thread")))
    with in_child, in_thread:
        assert isinstance(in_child.app, FastAPI)
        store = in_child.app.state.store
        store.upsert(_ledger())
        write_scores(store, stored_scores(AS_OF))
        yield in_child, in_thread, create_key(store, "bulk", SCOPES).key


def _runner(client: TestClient) -> BulkRunner:
    assert isinstance(client.app, FastAPI)
    runner: BulkRunner = client.app.state.bulk
    return runner


@pytest.mark.parametrize(
    "path",
    [
        f"/v1/worklist?as_of={AS_OF}",
        f"/v1/worklist?as_of={AS_OF}&format=csv",
        f"/v1/worklist?as_of={AS_OF}&collector=ann&page_size=1&page=2",
        f"/v1/worklist?as_of={AS_OF}&collector=nobody",
        f"/v1/kpis?as_of={AS_OF}&group_by=collector&months=3",
    ],
)
def test_the_child_answers_as_the_thread_does(
    apps: tuple[TestClient, TestClient, str], path: str
) -> None:
    in_child, in_thread, key = apps
    headers = {"Authorization": f"Bearer {key}"}
    from_child = in_child.get(path, headers=headers)
    from_thread = in_thread.get(path, headers=headers)
    assert from_child.status_code == from_thread.status_code
    assert from_child.status_code in (200, 422), from_child.text
    assert from_child.headers["content-type"] == from_thread.headers["content-type"]
    assert from_child.content == from_thread.content
    assert _runner(in_child).child_pids() and not _runner(in_thread).child_pids()


def test_an_unknown_filter_value_still_names_the_allowed_ones(
    apps: tuple[TestClient, TestClient, str],
) -> None:
    in_child, _in_thread, key = apps
    headers = {"Authorization": f"Bearer {key}"}
    response = in_child.get(f"/v1/worklist?as_of={AS_OF}&collector=nobody", headers=headers)
    assert response.status_code == 422
    assert response.json()["allowed"] == ["ann", "bob"]


@pytest.fixture(scope="module")
def signed_in(apps: tuple[TestClient, TestClient, str]) -> TestClient:
    """The app computing in a child, with a page session."""
    in_child, _in_thread, key = apps
    csrf = re.search(r'name="csrf" value="([^"]+)"', in_child.get("/signin").text)
    assert csrf is not None
    data = {"key": key, "next": "/worklist", "csrf": csrf.group(1)}
    assert in_child.post("/signin", data=data, follow_redirects=False).status_code == 303
    return in_child


@pytest.mark.parametrize("path", ["/worklist", "/customers/C1", "/kpis", "/worklist.csv"])
def test_the_pages_come_from_the_child(signed_in: TestClient, path: str) -> None:
    response = signed_in.get(path)
    assert response.status_code == 200, response.text
    assert "Alef" in response.text or path == "/kpis"
    assert "/signin" not in str(response.url)


def test_the_children_run_at_a_lower_priority(apps: tuple[TestClient, TestClient, str]) -> None:
    in_child, _in_thread, _key = apps
    runner = _runner(in_child)
    [pid] = runner.child_pids()  # bulk_lane_size 1: one child
    assert pid != os.getpid() and runner.run(child_pid) == pid
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    own = Path(f"/proc/{os.getpid()}/stat").read_text().rsplit(")", 1)[1].split()
    assert int(fields[16]) == int(own[16]) + NICE  # field 19 of stat: nice


def test_errors_come_back_as_the_thread_would_raise_them(
    apps: tuple[TestClient, TestClient, str],
) -> None:
    runner = _runner(apps[0])
    with pytest.raises(StoreUnavailable, match=r"OperationalError.*connection refused"):
        runner.run(raise_operational_error)
    with pytest.raises(RuntimeError, match="Unpicklable in the bulk process: one and two"):
        runner.run(raise_unpicklable)
    assert runner.run(child_pid) in runner.child_pids()  # the child is still there


def test_a_child_that_dies_is_replaced(apps: tuple[TestClient, TestClient, str]) -> None:
    in_child, in_thread, key = apps
    runner = _runner(in_child)
    [dead] = runner.child_pids()
    replaced = runner.replaced
    os.kill(dead, signal.SIGKILL)
    headers = {"Authorization": f"Bearer {key}"}
    response = in_child.get(f"/v1/worklist?as_of={AS_OF}", headers=headers)
    assert response.status_code == 200
    assert response.content == in_thread.get(f"/v1/worklist?as_of={AS_OF}", headers=headers).content
    assert runner.replaced == replaced + 1
    assert runner.child_pids() and dead not in runner.child_pids()


def test_the_children_stop_with_the_app(tmp_path: Path) -> None:
    with TestClient(create_app(_settings(tmp_path, "process"))) as client:
        pids = _runner(client).child_pids()
        assert len(pids) == 1 and Path(f"/proc/{pids[0]}").exists()
    assert not Path(f"/proc/{pids[0]}").exists()


def test_work_past_the_timeout_gets_503_and_new_children(tmp_path: Path) -> None:
    settings = _settings(tmp_path, "process", bulk_timeout_seconds=1.0)
    runner = BulkRunner(State({"settings": settings, "store": None}))
    try:
        runner.start()  # a child's start (~2 s) is not part of any work's time
        stuck = runner.run(child_pid)
        with pytest.raises(ApiError, match="longer than 1 s") as raised:
            runner.run(sleep_for, 60.0)
        assert raised.value.status_code == 503
        assert runner.replaced == 1
        assert _ends_within(stuck, seconds=30)  # stopped, not left computing
        runner.start()
        assert runner.run(child_pid) not in (stuck, os.getpid())  # a new child answers
    finally:
        runner.close()


def _ends_within(pid: int, seconds: float) -> bool:
    """Whether process ``pid`` is gone (or a zombie) within ``seconds``."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        try:
            state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
        except FileNotFoundError:
            return True
        if state == "Z":
            return True
        time.sleep(0.05)
    return False
