"""Eight clients upsert overlapping ledger rows at once through a real `payrisk serve`.

Each client sends its requests one after another (single PUT/POST rows and multi-row
batches in a shuffled order), every body tagged with a value unique to (client, request).
No lost update means: for every id, the stored row is the body of some client's *last*
accepted write to that id (a client's earlier write to it committed before its later
one, so it can never be the final state). Every 2xx must survive a SIGKILL of the server.
"""

from __future__ import annotations

import random
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx2 as httpx
import pandas as pd
import pytest

from ledger.frames import Ledger
from ledger.store import LedgerStore
from serving.auth import create_key

CLIENTS = 8
REQUESTS_PER_CLIENT = 12
IDS_PER_TABLE = 6  # few ids, many writers: every id is written by several clients
CUSTOMERS = ("C-1", "C-2")

pytestmark = pytest.mark.postgres


def _tag(client: int, request: int) -> int:
    """A number unique to one request of one client."""
    return 1000 * (client + 1) + request


def _invoice(number: int, tag: int) -> dict[str, Any]:
    return {
        "customer_id": CUSTOMERS[number % 2],
        "issue_date": "2026-10-01",
        "due_date": "2026-11-30",
        "amount": float(tag),
    }


def _payment(number: int, tag: int) -> dict[str, Any]:
    # Applied to the invoice of the same number, which the seed created.
    return {
        "customer_id": CUSTOMERS[number % 2],
        "invoice_id": f"INV-{number}",
        "payment_date": "2026-11-15",
        "amount": float(tag),
    }


def _activity(number: int, tag: int) -> dict[str, Any]:
    return {
        "activity_id": f"ACT-{number}",
        "customer_id": CUSTOMERS[number % 2],
        "date": "2026-11-20",
        "kind": "note",
        "text": f"tag {tag}",
    }


@dataclass
class Writes:
    """What each client got accepted: (table, id) -> tags in the client's send order."""

    accepted: dict[tuple[str, str], list[list[int]]] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, client: int, rows: list[tuple[str, str]], tag: int) -> None:
        with self.lock:
            for row in rows:
                per_client = self.accepted.setdefault(row, [[] for _ in range(CLIENTS)])
                per_client[client].append(tag)


def _one_request(
    http: httpx.Client, numbers: list[int], tag: int, kind: int
) -> tuple[httpx.Response, list[tuple[str, str]]]:
    """A single-row upsert of ``numbers[0]`` (kind 0-2), or a batch of every table's rows
    for all ``numbers`` in their (random) order (kind 3): batches lock overlapping rows."""
    number = numbers[0]
    if kind == 0:
        response = http.put(f"/v1/invoices/INV-{number}", json=_invoice(number, tag))
        return response, [("invoices", f"INV-{number}")]
    if kind == 1:
        response = http.put(f"/v1/payments/PAY-{number}", json=_payment(number, tag))
        return response, [("payments", f"PAY-{number}")]
    if kind == 2:
        return http.post("/v1/activities", json=_activity(number, tag)), [
            ("activities", f"ACT-{number}")
        ]
    body = {
        "invoices": [{"invoice_id": f"INV-{n}", **_invoice(n, tag)} for n in numbers],
        "payments": [{"payment_id": f"PAY-{n}", **_payment(n, tag)} for n in numbers],
        "activities": [_activity(n, tag) for n in numbers],
    }
    rows = [
        (table, f"{prefix}-{n}")
        for n in numbers
        for table, prefix in (("invoices", "INV"), ("payments", "PAY"), ("activities", "ACT"))
    ]
    return http.post("/v1/ledger/batch", json=body), rows


def _client(base_url: str, key: str, client: int, writes: Writes, start: threading.Barrier) -> None:
    plan = random.Random(client)
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=base_url, headers=headers, timeout=60) as http:
        start.wait()
        for request in range(REQUESTS_PER_CLIENT):
            tag = _tag(client, request)
            numbers = plan.sample(range(IDS_PER_TABLE), 3)
            response, rows = _one_request(http, numbers, tag, plan.randrange(4))
            if response.status_code == 200:
                writes.record(client, rows, tag)
            else:
                writes.failures.append(f"client {client}: {response.status_code} {response.text}")


def _seed(http: httpx.Client) -> None:
    for customer in CUSTOMERS:
        http.put(f"/v1/customers/{customer}", json={"name": customer}).raise_for_status()
    for number in range(IDS_PER_TABLE):
        http.put(f"/v1/invoices/INV-{number}", json=_invoice(number, 1)).raise_for_status()


def _stored_tags(ledger_frames: dict[str, pd.DataFrame]) -> dict[tuple[str, str], int]:
    """(table, id) -> the tag its stored row carries."""
    tags: dict[tuple[str, str], int] = {}
    for _, row in ledger_frames["invoices"].iterrows():
        tags[("invoices", row["invoice_id"])] = round(row["amount"])
    for _, row in ledger_frames["payments"].iterrows():
        tags[("payments", row["payment_id"])] = round(row["amount"])
    for _, row in ledger_frames["activities"].iterrows():
        tags[("activities", row["activity_id"])] = int(str(row["text"]).removeprefix("tag "))
    return tags


def test_overlapping_upserts_lose_nothing_and_survive_a_kill(
    postgres_url: str, serve_payrisk: Callable[..., Any]
) -> None:
    store = LedgerStore.from_url(postgres_url)
    store.migrate()
    key = create_key(store, "writers", ["ingest"]).key
    service = serve_payrisk(workers=2, database_url=postgres_url)
    with httpx.Client(
        base_url=service.base_url, headers={"Authorization": f"Bearer {key}"}, timeout=60
    ) as http:
        _seed(http)

    writes = Writes()
    start = threading.Barrier(CLIENTS)
    threads = [
        threading.Thread(target=_client, args=(service.base_url, key, client, writes, start))
        for client in range(CLIENTS)
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=300)
    assert not any(thread.is_alive() for thread in threads), "a client hung"
    assert not writes.failures, "\n".join(writes.failures[:10])

    # SIGKILL (supervisor and workers): an acknowledged write must already be in the
    # database, not in a process's memory. Then a fresh server on the same database.
    service.kill()
    service.start()
    assert httpx.get(f"{service.base_url}/readyz").json()["database"]["ok"] is True
    store.dispose()
    ledger = store.load()
    frames = {name: ledger.table(name) for name in ("invoices", "payments", "activities")}

    for name, frame in frames.items():
        key_column = {"invoices": "invoice_id", "payments": "payment_id"}.get(name, "activity_id")
        assert frame[key_column].is_unique, f"duplicate ids in {name}"
    stored = _stored_tags(frames)
    for row, per_client in writes.accepted.items():
        last_per_client = {tags[-1] for tags in per_client if tags}
        assert row in stored, f"{row} was accepted but is not stored"
        assert stored[row] in last_per_client, (
            f"{row} holds tag {stored[row]}, not any client's last accepted write "
            f"{sorted(last_per_client)}: an update was lost or reordered"
        )
    assert len(writes.accepted) >= 2 * IDS_PER_TABLE  # the overlap really happened
    assert max(sum(bool(tags) for tags in per) for per in writes.accepted.values()) >= 3
    store.dispose()


def test_overlapping_batches_in_opposite_orders_do_not_deadlock(postgres_url: str) -> None:
    """Two writers upsert the same 300 invoices, one forwards and one backwards, 20 times
    each (unsorted, this deadlocked a few times in 60 on PostgreSQL)."""
    store = LedgerStore.from_url(postgres_url)
    store.migrate()
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"INV-{number:04d}" for number in range(300)],
            "customer_id": "C-1",
            "issue_date": pd.Timestamp("2026-10-01"),
            "due_date": pd.Timestamp("2026-11-30"),
            "amount": 10.0,
        }
    )
    customers = pd.DataFrame({"customer_id": ["C-1"]})
    store.upsert(Ledger.from_frames(customers=customers, invoices=invoices))
    errors: list[Exception] = []

    def write(frame: pd.DataFrame) -> None:
        for _ in range(20):
            try:
                store.upsert(Ledger.from_frames(invoices=frame))
            except Exception as error:  # any failure is the finding
                errors.append(error)

    writers = [
        threading.Thread(target=write, args=(frame,))
        for frame in (invoices, invoices.iloc[::-1].reset_index(drop=True))
    ]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join(timeout=120)
    store.dispose()
    assert not errors, errors[:3]
