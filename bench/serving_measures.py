"""The measurements of ``bench_serving.py``: its load generator, (a), (b) and (c).

The load generator is a minimal asyncio HTTP/1.1 client, one keep-alive connection per
concurrent caller, so that it takes little of the CPU it shares with the servers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import time
from collections.abc import Awaitable, Callable
from datetime import date
from typing import Any

from servers import group_cpu_seconds  # bench/ is sys.path[0]


class _Connection:
    """One keep-alive HTTP/1.1 connection: the load generator's whole client.

    A few lines of asyncio instead of a full HTTP client, so that the generator, which
    shares the cores with the servers, costs as little CPU per request as possible.
    """

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer

    @classmethod
    async def open(cls, base: str) -> _Connection:
        host, _, port = base.removeprefix("http://").partition(":")
        reader, writer = await asyncio.open_connection(host, int(port))
        return cls(reader, writer)

    async def request(
        self, method: str, path: str, headers: dict[str, str], body: bytes = b""
    ) -> tuple[int, bytes]:
        """Send one request, read its response: (status, body)."""
        lines = [f"{method} {path} HTTP/1.1", "Host: 127.0.0.1"]
        lines += [f"{name}: {value}" for name, value in headers.items()]
        lines.append(f"Content-Length: {len(body)}")
        self.writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + body)
        head = await self.reader.readuntil(b"\r\n\r\n")
        status_line, *header_lines = head.decode("latin-1").split("\r\n")
        fields = {
            name.strip().lower(): value.strip()
            for name, _, value in (line.partition(":") for line in header_lines if line)
        }
        if fields.get("transfer-encoding", "").lower() == "chunked":
            return int(status_line.split()[1]), await self._chunked()
        return int(status_line.split()[1]), await self.reader.readexactly(
            int(fields.get("content-length", "0"))
        )

    async def _chunked(self) -> bytes:
        parts = []
        while True:
            size = int((await self.reader.readuntil(b"\r\n")).split(b";")[0], 16)
            parts.append(await self.reader.readexactly(size + 2))
            if size == 0:
                return b"".join(parts)

    async def close(self) -> None:
        self.writer.close()
        await self.writer.wait_closed()


Call = Callable[[_Connection, int], Awaitable[tuple[int, bytes]]]


async def run_load(
    base: str, make_request: Call, requests: int, concurrency: int, max_seconds: float
) -> dict[str, float]:
    """``requests`` calls by ``concurrency`` workers (one keep-alive connection each);
    requests/s, p50 and p99 latency (ms)."""
    latencies: list[float] = []
    counter = iter(range(requests))
    connections = [await _Connection.open(base) for _ in range(concurrency)]
    deadline = time.perf_counter() + max_seconds

    async def worker(connection: _Connection) -> None:
        for number in counter:
            if time.perf_counter() > deadline:
                return
            started = time.perf_counter()
            status, body = await make_request(connection, number)
            if status != 200:
                raise RuntimeError(f"{status}: {body[:300]!r}")
            latencies.append(time.perf_counter() - started)

    began = time.perf_counter()
    try:
        await asyncio.gather(*(worker(connection) for connection in connections))
    finally:
        for connection in connections:
            await connection.close()
    wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / wall,
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
        "requests": float(len(ordered)),
    }


def customer_call(key: str, customers: list[str], as_of: date) -> Call:
    headers = {"Authorization": f"Bearer {key}"}

    async def call(connection: _Connection, number: int) -> tuple[int, bytes]:
        customer = customers[number % len(customers)]
        path = f"/v1/customers/{customer}/risk?as_of={as_of.isoformat()}"
        return await connection.request("GET", path, headers)

    return call


def peer_call(records: list[dict[str, Any]]) -> Call:
    headers = {"Content-Type": "application/json"}
    bodies = [json.dumps({"dataframe_split": record}).encode() for record in records]

    async def call(connection: _Connection, number: int) -> tuple[int, bytes]:
        return await connection.request(
            "POST", "/invocations", headers, bodies[number % len(bodies)]
        )

    return call


def measure_single(
    base: str, call: Call, args: argparse.Namespace, group_id: int
) -> dict[str, float]:
    """(a): ``args.requests`` calls at ``args.concurrency`` (bounded by ``args.max_seconds``),
    with the server's CPU milliseconds per request (its process group ``group_id``)."""
    cpu_before = group_cpu_seconds(group_id)
    run = asyncio.run(run_load(base, call, args.requests, args.concurrency, args.max_seconds))
    cpu_ms = 1000 * (group_cpu_seconds(group_id) - cpu_before) / max(1.0, run["requests"])
    return run | {"cpu_ms": cpu_ms}


def measure_refresh(base: str, key: str, as_of: date) -> dict[str, float]:
    """(b) payrisk: rows/s of one ``POST /v1/scores:refresh``, timed by the client."""
    import httpx2 as httpx

    started = time.perf_counter()
    response = httpx.post(
        f"{base}/v1/scores:refresh",
        json={"as_of": as_of.isoformat()},
        headers={"Authorization": f"Bearer {key}"},
        timeout=600,
    )
    seconds = time.perf_counter() - started
    response.raise_for_status()
    answer = response.json()
    return {"rows_per_s": answer["invoices_scored"] / seconds, "rows": answer["invoices_scored"]}


def measure_peer_batches(peer: str, records: list[dict[str, Any]], batches: int) -> float:
    """(b) peer: rows/s over ``batches`` sequential requests of 1,000 feature rows."""
    import httpx2 as httpx

    rows = [record["data"][0] for record in records]
    with httpx.Client(timeout=300) as client:
        started = time.perf_counter()
        for number in range(batches):
            chunk = [rows[(number * 1000 + i) % len(rows)] for i in range(1000)]
            body = {"dataframe_split": {"columns": records[0]["columns"], "data": chunk}}
            client.post(f"{peer}/invocations", json=body).raise_for_status()
        return 1000 * batches / (time.perf_counter() - started)


def measure_inprocess(data: tuple[Any, ...], repeats: int = 10) -> dict[str, float]:
    """(c): median seconds per call on the same rows (the open invoices, tiled to ~10k)."""
    import pandas as pd

    loaded, features = data[2]
    model = loaded.model
    tiled = pd.concat([features] * max(1, 10_000 // len(features)), ignore_index=True)
    matrix = model._matrix(tiled)  # the raw booster gets its numbers ready-made
    due = tiled["as_of"] + pd.to_timedelta(tiled["days_to_due"], unit="D")

    def median_seconds(call: Callable[[], Any]) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    return {
        "rows": float(len(tiled)),
        "raw_ms": 1000
        * median_seconds(
            lambda: model.booster_.predict(matrix, num_iteration=model.best_iteration_)
        ),
        "proba_ms": 1000 * median_seconds(lambda: model.predict_proba(tiled)),
        "frame_ms": 1000 * median_seconds(lambda: model.predict_frame(tiled, tiled["as_of"], due)),
    }
