"""PostgreSQL stopped and restarted under load: fast 503s, /readyz false, recovery alone.

A private cluster (never the machine's PostgreSQL) serves a real `payrisk serve` with a
tiny champion. Four clients keep sending ingest, stored-scoring, worklist and page requests
while the cluster is stopped and started again. While it is down every answer must be a
503 with the JSON body that says so, within the configured connect timeout (plus slack
for a loaded machine); never a 500, never a hang. Once it is back, the service must turn
ready and answer 200 again without being restarted.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import pytest

from ledger.store import LedgerStore
from serving.auth import SCOPES, create_key

CONNECT_TIMEOUT_SECONDS = 2
# Slack over the connect timeout for a 2-core machine shared by other test runs.
ANSWER_WITHIN_SECONDS = CONNECT_TIMEOUT_SECONDS + 8
LOAD_CLIENTS = 4
AS_OF = "2026-12-01"

pytestmark = pytest.mark.postgres


@dataclass
class Answers:
    """Every answer the load clients got: (phase, method+path, status, seconds, body)."""

    phase: str = "up"
    log: list[tuple[str, str, int, float, str]] = field(default_factory=list)
    stop: threading.Event = field(default_factory=threading.Event)

    def of(self, phase: str) -> list[tuple[str, str, int, float, str]]:
        return [answer for answer in self.log if answer[0] == phase]


def _requests(number: int) -> tuple[str, str, dict[str, Any] | None]:
    """The n-th request of the mix: ingest, stored scoring, worklist."""
    mix = [
        ("PUT", f"/v1/customers/C-{number % 5}", {"name": f"customer {number}"}),
        ("GET", f"/v1/customers/C-0/risk?as_of={AS_OF}", None),
        ("GET", "/v1/worklist?limit=5", None),
        ("GET", "/customers/C-0", None),  # a page, signed in by cookie
    ]
    return mix[number % len(mix)]


def _load(base_url: str, key: str, answers: Answers) -> None:
    headers = {"Authorization": f"Bearer {key}"}
    number = 0
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        _sign_in(http, key)
        while not answers.stop.is_set():
            method, path, body = _requests(number)
            phase, started = answers.phase, time.monotonic()
            response = http.request(method, path, json=body)
            seconds = time.monotonic() - started
            if answers.phase != phase:  # sent in one phase, answered in the next
                phase = f"{phase}->{answers.phase}"
            answers.log.append(
                (phase, f"{method} {path}", response.status_code, seconds, response.text[:300])
            )
            number += 1
            time.sleep(0.05)


def _sign_in(http: httpx.Client, key: str) -> None:
    form = http.get("/signin").text
    csrf = re.search(r'name="csrf" value="([^"]+)"', form)
    assert csrf is not None, form[:300]
    http.post("/signin", data={"key": key, "csrf": csrf.group(1)})
    assert "payrisk_session" in http.cookies


def _seed(url: str) -> str:
    store = LedgerStore.from_url(url)
    store.migrate()
    key = create_key(store, "outage", SCOPES).key
    store.dispose()
    return key


def test_database_outage_gives_fast_503s_and_the_service_recovers(
    private_postgres: Any,
    serve_payrisk: Callable[..., Any],
    tiny_champion: Any,
    poll: Callable[[Callable[[], bool], float, str], float],
) -> None:
    url = private_postgres.create_database("outage")
    key = _seed(url)
    service = serve_payrisk(
        database_url=url,
        mlflow_tracking_uri=tiny_champion.settings.resolved_tracking_uri,
        db_connect_timeout_seconds=str(CONNECT_TIMEOUT_SECONDS),
        api_key_cache_seconds="0",  # every request checks its key in the database
        score_cache_entries="0",  # every score reads the ledger
    )
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=service.base_url, headers=headers, timeout=60) as http:
        http.put("/v1/customers/C-0", json={"name": "first"}).raise_for_status()
        invoice = {
            "customer_id": "C-0",
            "issue_date": "2026-10-01",
            "due_date": "2026-11-15",
            "amount": 500.0,
        }
        http.put("/v1/invoices/INV-1", json=invoice).raise_for_status()
        assert http.get("/readyz").json()["ready"] is True

        answers = Answers()
        clients = [
            threading.Thread(target=_load, args=(service.base_url, key, answers))
            for _ in range(LOAD_CLIENTS)
        ]
        for client in clients:
            client.start()
        try:
            poll(lambda: len(answers.of("up")) >= 12, 60, "answers before the outage")
            answers.phase = "stopping"
            private_postgres.stop("fast")
            answers.phase = "down"
            poll(lambda: len(answers.of("down")) >= 12, 60, "answers during the outage")
            readiness = http.get("/readyz")
            answers.phase = "starting"
            private_postgres.start()
            answers.phase = "back"
            recovered = poll(lambda: http.get("/readyz").status_code == 200, 60, "ready again")
            poll(lambda: len(answers.of("back")) >= 12, 60, "answers after the outage")
        finally:
            answers.stop.set()
            for client in clients:
                client.join(timeout=60)

    assert readiness.status_code == 503
    body = readiness.json()
    assert body["ready"] is False and body["database"]["ok"] is False
    assert any(reason.startswith("database:") for reason in body["reasons"])
    assert body["model"]["ok"] is True  # the model stays loaded

    failed_before = [answer for answer in answers.of("up") if answer[2] != 200]
    assert not failed_before, failed_before
    for _, what, status, seconds, text in answers.of("down"):
        assert status == 503, f"{what} during the outage: {status} {text}"
        assert "the ledger database is unavailable" in text
        assert seconds < ANSWER_WITHIN_SECONDS, f"{what} took {seconds:.1f} s to fail"
    assert all(status != 500 for _, _, status, _, _ in answers.log)
    # After the restart, pooled connections are checked before use: no request fails.
    back = answers.of("back")
    late = back[len(back) // 2 :]  # give the pool a moment; then every answer must be good
    failed_after = [answer for answer in late if answer[2] != 200]
    assert not failed_after, failed_after
    print(f"ready again {recovered:.1f} s after PostgreSQL started")
