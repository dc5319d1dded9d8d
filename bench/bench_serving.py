"""Benchmark the scoring service against `mlflow models serve` on the same registered model.

Usage::

    .venv/bin/python bench/bench_serving.py                    # prepare in a temp folder, 3 repeats
    .venv/bin/python bench/bench_serving.py --workdir /tmp/payrisk-bench --repeat 5

Preparation (skipped when ``--workdir`` already holds it): the demo ledger (400 customers,
3 years, seed 7, ending 2026-11-30) imported into a SQLite database, a champion trained
with the default settings in an MLflow store beside it, and an API key (score + admin).
Then the bench starts, one after the other on 127.0.0.1 and free ports,
``mlflow models serve -m models:/payment-risk@champion --env-manager local --workers 2``,
``payrisk serve --workers 2`` with its answer cache off, and again with the cache on, and
measures ``--repeat`` times each:

(a) single-customer stored-mode scoring at concurrency 16: payrisk's
    ``GET /v1/customers/{id}/risk`` (cache off: every request is computed -- the
    customer's rows read from the database, features, prediction and reasons as
    ``settings.score_reasons_method`` says, path attributions by default -- the misses a
    worker has in flight together in one batch, ``serving.micro_batch``; cache warm: the
    cached answer, after one revision query unless nothing was committed since)
    over every customer with an open invoice in turn, against the peer's ``/invocations``
    fed one row of already-computed features. "cache off" scores every request; "cache
    warm" has seen each customer before (same rows and as-of date: the answer is exact);
(b) ``POST /v1/scores:refresh`` (load the ledger, features for every open invoice, one
    predict call, path reasons, store) in rows/s, against the peer fed batches of 1,000
    already-computed rows, one request at a time;
(c) in process, the model's own prediction path (``predict_proba``, ``predict_frame``)
    against raw ``Booster.predict`` on the same rows (the matrix made beforehand).

The table shows the median and, in brackets, min-max over the repeats. ``cpu_ms`` is
the server's CPU (user + system, all its processes, read from ``/proc``) per request of
(a): on a shared machine it depends much less than requests/s on what else runs. Both servers are
stopped at the end (their process groups, started here). Loopback only; every phase is
bounded in requests and seconds. The load generator (a minimal asyncio HTTP/1.1 client,
one keep-alive connection per concurrent caller, so that it takes little CPU) runs on the
same machine, which may be shared: the numbers are what it gave. payrisk runs with its
per-key rate limit off (one key sends everything).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servers import BIN, free_port, group_cpu_seconds, payrisk_serve, server  # noqa: E402  (bench/ is sys.path[0])

END = date(2026, 11, 30)
MODEL_URI = "models:/payment-risk@champion"
WARM_PASSES = 8  # warm-up passes of the "cache warm" phase (see run_phases)


def prepare(workdir: Path, customers: int, years: int) -> dict[str, str]:
    """Ledger in SQLite, a trained champion, a key; reused when already there."""
    ready = workdir / "prepared.json"
    if ready.exists():
        return dict(json.loads(ready.read_text()))
    from ledger.store import LedgerStore
    from ledger.synthetic import GeneratorConfig, generate_ledger
    from models.registry import CHAMPION_ALIAS, open_registry, set_alias
    from payrisk.settings import Settings
    from serving.auth import create_key
    from training.pipeline import train
    from training.tracking import log_training_run

    settings = Settings(data_dir=workdir)
    generated = generate_ledger(GeneratorConfig(customers=customers, years=years, seed=7, end=END))
    with LedgerStore.from_url(settings.resolved_database_url) as store:
        store.migrate()
        store.upsert(generated.ledger)
        key = create_key(store, "bench", ["score", "admin"]).key
    started = time.perf_counter()
    run = log_training_run(train(generated.ledger, settings), settings)
    print(f"trained version {run.version} in {time.perf_counter() - started:.0f} s", flush=True)
    set_alias(
        open_registry(settings.resolved_tracking_uri), "payment-risk", CHAMPION_ALIAS, run.version
    )
    facts = {
        "database_url": settings.resolved_database_url,
        "tracking_uri": settings.resolved_tracking_uri,
        "key": key,
    }
    ready.write_text(json.dumps(facts))
    return facts


def peer_payloads(facts: dict[str, str]) -> tuple[list[str], list[dict[str, Any]], Any]:
    """Customers with open invoices, their feature rows as the peer takes them, the model."""
    import pandas as pd

    from features.build import build_features
    from ledger.store import LedgerStore
    from models.pyfunc import load_payment_risk_model, signature_frame
    from serving.scoring import open_invoice_rows

    loaded = load_payment_risk_model(MODEL_URI, tracking_uri=facts["tracking_uri"])
    with LedgerStore.from_url(facts["database_url"]) as store:
        ledger = store.load()
    features = build_features(ledger, open_invoice_rows(ledger, pd.Timestamp(END)))
    rows = signature_frame(features, loaded.card)
    split = json.loads(rows.to_json(orient="split", index=False))
    records = [{"columns": split["columns"], "data": [row]} for row in split["data"]]
    customers = sorted(set(features["customer_id"].astype(str)))
    return customers, records, (loaded, features)


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


async def _load(
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


def _customer_call(key: str, customers: list[str]) -> Call:
    headers = {"Authorization": f"Bearer {key}"}

    async def call(connection: _Connection, number: int) -> tuple[int, bytes]:
        customer = customers[number % len(customers)]
        path = f"/v1/customers/{customer}/risk?as_of={END.isoformat()}"
        return await connection.request("GET", path, headers)

    return call


def _peer_call(records: list[dict[str, Any]]) -> Call:
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
    run = asyncio.run(_load(base, call, args.requests, args.concurrency, args.max_seconds))
    cpu_ms = 1000 * (group_cpu_seconds(group_id) - cpu_before) / max(1.0, run["requests"])
    return run | {"cpu_ms": cpu_ms}


def measure_refresh(base: str, key: str) -> dict[str, float]:
    """(b) payrisk: rows/s of one ``POST /v1/scores:refresh``, timed by the client."""
    import httpx2 as httpx

    started = time.perf_counter()
    response = httpx.post(
        f"{base}/v1/scores:refresh",
        json={"as_of": END.isoformat()},
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


def _spread(values: list[float], digits: int = 0) -> str:
    median, low, high = statistics.median(values), min(values), max(values)
    return f"{median:.{digits}f} [{low:.{digits}f}-{high:.{digits}f}]"


def _ratios(top: list[float], bottom: list[float]) -> str:
    return _spread([a / b for a, b in zip(top, bottom, strict=True)], 2)


def report(results: dict[str, list[dict[str, float]]]) -> None:
    """One table: median [min-max] over the repeats."""

    def values(phase: str, name: str) -> list[float]:
        return [run[name] for run in results[phase]]

    peer_rps = values("peer", "rps")
    rows = [
        ("(a) payrisk, cache off: requests/s", "cold", "rps", peer_rps, ">= 10x"),
        ("(a) payrisk, cache warm: requests/s", "warm", "rps", peer_rps, ">= 10x"),
    ]
    table = [
        (
            label,
            _spread(values(phase, key)),
            _spread(peer_rps),
            _ratios(values(phase, key), peer_rps),
            target,
        )
        for label, phase, key, _, target in rows
    ]
    for phase, label in (("cold", "cache off"), ("warm", "cache warm")):
        for key in ("p50_ms", "p99_ms", "cpu_ms"):
            target = "< 50" if key == "p99_ms" else ""
            table.append(
                (
                    f"(a) payrisk, {label}: {key}",
                    _spread(values(phase, key), 1 if key == "cpu_ms" else 0),
                    _spread(values("peer", key), 1 if key == "cpu_ms" else 0),
                    "",
                    target,
                )
            )
    refresh, peer_batch = values("cold", "rows_per_s"), values("peer", "batch_rows_per_s")
    table.append(
        (
            f"(b) refresh, {values('cold', 'rows')[0]:.0f} invoices: rows/s",
            _spread(refresh),
            _spread(peer_batch),
            _ratios(refresh, peer_batch),
            ">= 5x",
        )
    )
    raw = values("inproc", "raw_ms")
    for key, label in (("proba_ms", "predict_proba"), ("frame_ms", "predict_frame")):
        rows_n = values("inproc", "rows")[0]
        table.append(
            (
                f"(c) {label} vs Booster.predict, {rows_n:.0f} rows: ms",
                _spread(values("inproc", key), 1),
                _spread(raw, 1),
                _ratios(values("inproc", key), raw),
                "<= 2x",
            )
        )
    header = ("measure", "payrisk", "peer / raw booster", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [header, *table]) for i in range(5)]
    for row in [header, tuple("-" * width for width in widths), *table]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def _payrisk(workdir: Path, facts: dict[str, str], port: int, cache_entries: int, log: str) -> Any:
    env = {
        "PAYRISK_DATA_DIR": str(workdir),
        "PAYRISK_DATABASE_URL": facts["database_url"],
        "PAYRISK_MLFLOW_TRACKING_URI": facts["tracking_uri"],
        "PAYRISK_MODEL_POLL_SECONDS": "0",
        "PAYRISK_SCORE_CACHE_ENTRIES": str(cache_entries),
        # "warm" measures answers from the cache: no entry may expire during the warm-up
        "PAYRISK_SCORE_CACHE_MAX_AGE_SECONDS": "3600",
        # a load test of one key: the per-key rate limit would answer 429 past 1,000/s
        "PAYRISK_RATE_LIMIT_PER_SECOND": "0",
    }
    return server(payrisk_serve(port), env, f"http://127.0.0.1:{port}/readyz", workdir / log)


def run_phases(
    workdir: Path, facts: dict[str, str], data: tuple[Any, ...], args: argparse.Namespace
) -> dict[str, list[dict[str, float]]]:
    """Each server in turn (peer, payrisk without cache, payrisk with a warm cache)."""
    customers, records, _ = data
    results: dict[str, list[dict[str, float]]] = {"peer": [], "cold": [], "warm": [], "inproc": []}
    port = free_port()
    peer_command = [
        str(BIN / "mlflow"),
        "models",
        "serve",
        "-m",
        MODEL_URI,
        "--env-manager",
        "local",
        "-h",
        "127.0.0.1",
        "-p",
        str(port),
        "-w",
        "2",
    ]
    with server(
        peer_command,
        {"MLFLOW_TRACKING_URI": facts["tracking_uri"]},
        f"http://127.0.0.1:{port}/ping",
        workdir / "mlflow-serve.log",
    ) as process:
        peer = f"http://127.0.0.1:{port}"
        call = _peer_call(records)
        asyncio.run(_load(peer, call, 2 * args.concurrency, args.concurrency, 30))  # warm-up
        for _ in range(args.repeat):
            batch = measure_peer_batches(peer, records, args.peer_batches)
            single = measure_single(peer, call, args, process.pid)
            results["peer"].append({**single, "batch_rows_per_s": batch})
    for phase, entries in (("cold", 0), ("warm", 100_000)):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with _payrisk(workdir, facts, port, entries, f"payrisk-serve-{phase}.log") as process:
            call = _customer_call(facts["key"], customers)
            # warm-up. With the cache on: WARM_PASSES passes over every customer, each on
            # new connections, since the kernel gives a connection to one worker and one
            # worker may take most of them: every worker must have seen every customer.
            for _ in range(WARM_PASSES if entries else 1):
                warm = len(customers) if entries else 2 * args.concurrency
                asyncio.run(_load(base, call, warm, args.concurrency, 900))
            for _ in range(args.repeat):
                run = measure_single(base, call, args, process.pid)
                if phase == "cold":
                    run |= measure_refresh(base, facts["key"])
                results[phase].append(run)
    results["inproc"] = [measure_inprocess(data) for _ in range(args.repeat)]
    return results


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--workdir", type=Path, help="keep the prepared ledger and model here")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--requests", type=int, default=400, help="per measurement of (a)")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--max-seconds", type=float, default=60, help="bound of one measurement")
    parser.add_argument("--peer-batches", type=int, default=10, help="batches of 1,000 rows in (b)")
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--years", type=int, default=3)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="payrisk-bench-"))
    workdir.mkdir(parents=True, exist_ok=True)
    facts = prepare(workdir, args.customers, args.years)
    data = peer_payloads(facts)
    load_before = os.getloadavg()[0]
    results = run_phases(workdir, facts, data, args)
    print(json.dumps(results))
    load = os.getloadavg()[0]
    print(
        f"\nload average (1 min) at the start {load_before:.1f}, at the end {load:.1f}, "
        f"on {os.cpu_count()} cores (a shared machine)\n"
    )
    report(results)


if __name__ == "__main__":
    main()
