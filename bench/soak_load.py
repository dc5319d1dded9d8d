"""The soak's load: asyncio workers sending a fixed mix of requests, tallied per route.

Used by ``bench/soak.py`` (see there); no I/O at import.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import secrets
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

END = date(2026, 11, 30)
# Route label -> weight in the mix (out of 100).
MIX = {
    "score": 40,
    "ingest invoice": 20,
    "ingest activity": 5,
    "worklist api": 15,
    "worklist page": 10,
    "customer page": 10,
}


def process_tree(pid: int) -> dict[int, int]:
    """``pid`` and all its descendants, each with its depth (0: ``pid``), from /proc (Linux).

    A process's children are listed per thread that started them (a worker's bulk
    children come from one of its threads, ``serving.bulk_runner``): every thread is read.
    """
    found: dict[int, int] = {}
    pending = [(pid, 0)]
    while pending:
        current, depth = pending.pop()
        try:
            children = [
                int(child)
                for task in Path(f"/proc/{current}/task").iterdir()
                for child in (task / "children").read_text().split()
            ]
        except OSError:
            continue  # ended meanwhile
        found[current] = depth
        pending.extend((child, depth + 1) for child in children)
    return found


def process_tree_rss_mb(pid: int) -> dict[int, float]:
    """Resident memory (MB) of ``pid`` and all its descendants (``process_tree``)."""
    found: dict[int, float] = {}
    for process in process_tree(pid):
        try:
            status = Path(f"/proc/{process}/status").read_text()
        except OSError:
            continue
        match = re.search(r"^VmRSS:\s+(\d+) kB", status, re.MULTILINE)
        found[process] = int(match.group(1)) / 1024 if match else 0.0
    return found


def process_tree_cpu_seconds(pid: int) -> dict[int, tuple[int, float]]:
    """Per process of ``pid``'s tree: its depth and the CPU time it has used (user and
    system, s), from /proc/PID/stat."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[int, float]] = {}
    for process, depth in process_tree(pid).items():
        try:
            stat = Path(f"/proc/{process}/stat").read_text()
        except OSError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "pid (name)": field 3 on
        found[process] = (depth, (int(fields[11]) + int(fields[12])) / ticks)
    return found


def cpu_by_role(
    start: dict[int, tuple[int, float]], end: dict[int, tuple[int, float]]
) -> dict[str, float]:
    """CPU seconds used between two ``process_tree_cpu_seconds`` readings, by role: the
    supervisor (depth 0), the workers (1) and their bulk children (2), counting the
    processes alive at both."""
    roles = {0: "supervisor", 1: "workers", 2: "bulk children"}
    used = dict.fromkeys(roles.values(), 0.0)
    for process, (depth, seconds) in end.items():
        if process in start and depth in roles:
            used[roles[depth]] += seconds - start[process][1]
    return used


@dataclass
class Tally:
    """Latencies (s) and statuses per route label while counting is on."""

    counting: bool = False
    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, Counter[int]] = field(default_factory=lambda: defaultdict(Counter))
    failures: list[str] = field(default_factory=list)
    examples: dict[tuple[str, int], str] = field(default_factory=dict)  # first body per status

    def record(
        self, label: str, status: int, seconds: float, what: str, cache: str | None = None
    ) -> None:
        """One counted answer (599: none came); keeps the first body of each error status.
        ``cache``: the answer's ``X-Payrisk-Cache`` (hit, miss), also tallied apart."""
        self.latencies[label].append(seconds)
        if cache is not None:
            self.latencies[f"{label} ({cache})"].append(seconds)
        self.statuses[label][status] += 1
        if status >= 400 and (label, status) not in self.examples:
            self.examples[(label, status)] = what
        if status >= 500 and len(self.failures) < 20:
            self.failures.append(f"{label} {status}: {what}")


async def _sign_in(client: Any, key: str) -> None:
    page = await client.get("/signin")
    csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
    data = {"key": key, "next": "/worklist", "csrf": csrf.group(1) if csrf else ""}
    response = await client.post("/signin", data=data)
    if response.status_code >= 400 or "payrisk_session" not in client.cookies:
        raise RuntimeError(f"page sign-in failed: {response.status_code} {response.text[:200]}")


def _request(label: str, number: int, facts: dict[str, Any]) -> tuple[str, str, Any]:
    customers, invoices = facts["customers"], facts["invoices"]
    customer = customers[number % len(customers)]
    if label == "score":
        return "GET", f"/v1/customers/{customer}/risk?as_of={END.isoformat()}", None
    if label == "ingest invoice":
        invoice = dict(invoices[number % len(invoices)])
        invoice_id = invoice.pop("invoice_id")
        invoice["amount"] = round(invoice["amount"] * 1.01 + number % 7, 2)
        return "PUT", f"/v1/invoices/{invoice_id}", invoice
    if label == "ingest activity":
        body = {
            "activity_id": f"SOAK-{number}",
            "customer_id": customer,
            "kind": "call",
            "date": END.isoformat(),
            "text": "soak",
        }
        return "POST", "/v1/activities", body
    if label == "worklist api":
        return "GET", f"/v1/worklist?as_of={END.isoformat()}&page={1 + number % 3}", None
    if label == "worklist page":
        return "GET", f"/worklist?page={1 + number % 3}", None
    return "GET", f"/customers/{customer}", None


async def _worker(
    base_url: str, facts: dict[str, Any], tally: Tally, plan: list[str], stop_at: float
) -> None:
    import httpx2 as httpx

    headers = {"Authorization": f"Bearer {facts['key']}"}
    async with httpx.AsyncClient(base_url=base_url, headers=headers, timeout=60) as client:
        await _sign_in(client, facts["key"])
        number = secrets.randbelow(10_000)
        while time.perf_counter() < stop_at:
            label = plan[number % len(plan)]
            method, path, body = _request(label, number, facts)
            started = time.perf_counter()
            try:
                response = await client.request(method, path, json=body)
                status, text = response.status_code, response.text[:200]
                cache = response.headers.get("x-payrisk-cache")
            except httpx.HTTPError as error:
                status, text = 599, f"no answer: {type(error).__name__}: {error}"
                cache = None
            if tally.counting:
                elapsed = time.perf_counter() - started
                tally.record(label, status, elapsed, f"{method} {path}: {text}", cache)
            number += 1


async def run_load(
    base_url: str, facts: dict[str, Any], args: argparse.Namespace, server_pid: int
) -> dict[str, Any]:
    """Warm up, then count for ``args.seconds``; memory and client CPU around the count."""
    tally = Tally()
    # --read-only drops the writes: how much of the cost is cache invalidation by ingest?
    mix = {
        label: weight
        for label, weight in MIX.items()
        if not (args.read_only and label.startswith("ingest"))
    }
    plan = [label for label, weight in mix.items() for _ in range(weight)]
    began = time.perf_counter()
    stop_at = began + args.warmup + args.seconds
    workers = [
        asyncio.create_task(_worker(base_url, facts, tally, plan, stop_at))
        for _ in range(args.concurrency)
    ]
    await asyncio.sleep(args.warmup)
    memory_start = process_tree_rss_mb(server_pid)
    cpu_at_start = process_tree_cpu_seconds(server_pid)
    tally.counting = True
    cpu_start, counted_from = time.process_time(), time.perf_counter()
    samples = [sum(memory_start.values())]  # total MB every ~5 s: a plateau or a climb?
    while time.perf_counter() < stop_at:
        await asyncio.sleep(min(5.0, max(0.0, stop_at - time.perf_counter())))
        samples.append(sum(process_tree_rss_mb(server_pid).values()))
    tally.counting = False
    wall = time.perf_counter() - counted_from
    client_cpu = (time.process_time() - cpu_start) / wall
    memory_end = process_tree_rss_mb(server_pid)
    server_cpu = cpu_by_role(cpu_at_start, process_tree_cpu_seconds(server_pid))
    await asyncio.gather(*workers)
    return {
        "tally": tally,
        "wall": wall,
        "client_cpu": client_cpu,
        "samples_mb": samples,
        "memory_start": memory_start,
        "memory_end": memory_end,
        "server_cpu": server_cpu,
    }
