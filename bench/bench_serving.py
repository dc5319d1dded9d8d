"""Benchmark the scoring service against `mlflow models serve` on the same registered model.

Usage::

    .venv/bin/python bench/bench_serving.py                    # prepare in a temp folder, 3 repeats
    .venv/bin/python bench/bench_serving.py --workdir /tmp/payrisk-bench --repeat 5

Preparation (skipped when ``--workdir`` already holds it): the demo ledger (400 customers,
3 years, seed 7, ending 2026-11-30) imported into a SQLite database, a champion trained
with the default settings in an MLflow store beside it, and an API key (score + admin).
Then the bench starts, on 127.0.0.1 and free ports, ``payrisk serve --workers 2`` and
``mlflow models serve -m models:/payment-risk@champion --env-manager local --workers 2``,
and measures, ``--repeat`` times each:

(a) single-customer stored-mode scoring at concurrency 16: payrisk's
    ``GET /v1/customers/{id}/risk`` (features from the stored ledger, SHAP reasons)
    against the peer's ``/invocations`` fed one row of already-computed features;
(b) ``POST /v1/scores:refresh`` (load the ledger, features for every open invoice, one
    predict call, path reasons, store) in rows/s, against the peer fed batches of 1,000
    already-computed rows, one request at a time;
(c) in process, the model's own prediction path (``predict_proba``, ``predict_frame``)
    against raw ``Booster.predict`` on the same rows (the matrix made beforehand).

The table shows the median and, in brackets, min-max over the repeats. Both servers are
stopped at the end (their process groups, started here). Loopback only; every phase is
bounded in requests and seconds. The machine may be shared: the numbers are what it gave.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END = date(2026, 11, 30)
MODEL_URI = "models:/payment-risk@champion"
BIN = Path(sys.executable).parent


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

    from ledger.store import LedgerStore
    from models.pyfunc import load_payment_risk_model, signature_frame
    from serving.scoring import features_for, open_invoice_rows

    loaded = load_payment_risk_model(MODEL_URI, tracking_uri=facts["tracking_uri"])
    with LedgerStore.from_url(facts["database_url"]) as store:
        ledger = store.load()
    features = features_for(ledger, open_invoice_rows(ledger, pd.Timestamp(END)))
    rows = signature_frame(features, loaded.card)
    split = json.loads(rows.to_json(orient="split", index=False))
    records = [{"columns": split["columns"], "data": [row]} for row in split["data"]]
    customers = sorted(set(features["customer_id"].astype(str)))
    return customers, records, (loaded, features)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def server(command: list[str], env: dict[str, str], ready_url: str, log: Path) -> Iterator[None]:
    """Run ``command`` in its own process group until the block ends; wait for ``ready_url``."""
    import httpx

    with log.open("w") as output:
        process = subprocess.Popen(
            command, env={**os.environ, **env}, stdout=output, stderr=output, start_new_session=True
        )
        try:
            deadline = time.monotonic() + 180
            while time.monotonic() < deadline:
                if process.poll() is not None:
                    raise RuntimeError(f"{command[0]} exited early; see {log}")
                try:
                    if httpx.get(ready_url, timeout=2).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)
            else:
                raise RuntimeError(f"{ready_url} not ready after 180 s; see {log}")
            yield
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()


async def _load(
    make_request: Callable[[Any, int], Any], requests: int, concurrency: int, max_seconds: float
) -> dict[str, float]:
    """``requests`` calls by ``concurrency`` workers; requests/s, p50 and p99 latency (ms)."""
    import httpx

    latencies: list[float] = []
    counter = iter(range(requests))
    limits = httpx.Limits(max_connections=concurrency, max_keepalive_connections=concurrency)
    async with httpx.AsyncClient(limits=limits, timeout=60) as client:
        deadline = time.perf_counter() + max_seconds

        async def worker() -> None:
            for number in counter:
                if time.perf_counter() > deadline:
                    return
                started = time.perf_counter()
                response = await make_request(client, number)
                if response.status_code != 200:
                    raise RuntimeError(f"{response.status_code}: {response.text[:300]}")
                latencies.append(time.perf_counter() - started)

        began = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(concurrency)))
        wall = time.perf_counter() - began
    ordered = sorted(latencies)
    return {
        "rps": len(ordered) / wall,
        "p50_ms": 1000 * ordered[len(ordered) // 2],
        "p99_ms": 1000 * ordered[min(len(ordered) - 1, int(0.99 * len(ordered)))],
    }


def measure_single(
    base: str, peer: str, facts: dict[str, str], data: tuple[Any, ...], args: argparse.Namespace
) -> dict[str, dict[str, float]]:
    """(a): both servers at ``args.concurrency``, payrisk first, after a warm-up each."""
    customers, records, _ = data
    headers = {"Authorization": f"Bearer {facts['key']}"}

    async def ours(client: Any, number: int) -> Any:
        customer = customers[number % len(customers)]
        url = f"{base}/v1/customers/{customer}/risk?as_of={END.isoformat()}"
        return await client.get(url, headers=headers)

    async def theirs(client: Any, number: int) -> Any:
        body = {"dataframe_split": records[number % len(records)]}
        return await client.post(f"{peer}/invocations", json=body)

    results = {}
    for name, call in (("payrisk", ours), ("peer", theirs)):
        asyncio.run(_load(call, 2 * args.concurrency, args.concurrency, 30))
        results[name] = asyncio.run(_load(call, args.requests, args.concurrency, args.max_seconds))
    return results


def measure_batch(
    base: str, peer: str, facts: dict[str, str], data: tuple[Any, ...], args: argparse.Namespace
) -> dict[str, float]:
    """(b): the refresh's rows/s, and the peer's rows/s on batches of 1,000 rows."""
    import httpx

    _, records, _ = data
    rows = [record["data"][0] for record in records]
    headers = {"Authorization": f"Bearer {facts['key']}"}
    with httpx.Client(timeout=300) as client:
        started = time.perf_counter()
        response = client.post(
            f"{base}/v1/scores:refresh", json={"as_of": END.isoformat()}, headers=headers
        )
        ours_seconds = time.perf_counter() - started
        response.raise_for_status()
        scored = response.json()["invoices_scored"]
        batches, sent = max(1, args.peer_batches), 0
        started = time.perf_counter()
        for number in range(batches):
            chunk = [rows[(number * 1000 + i) % len(rows)] for i in range(1000)]
            body = {"dataframe_split": {"columns": records[0]["columns"], "data": chunk}}
            client.post(f"{peer}/invocations", json=body).raise_for_status()
            sent += len(chunk)
        theirs_seconds = time.perf_counter() - started
    return {"payrisk": scored / ours_seconds, "peer": sent / theirs_seconds, "rows": float(scored)}


def measure_inprocess(data: tuple[Any, ...], repeats: int = 20) -> dict[str, float]:
    """(c): seconds per call on the same rows (the open invoices, tiled to ~10k rows)."""
    import pandas as pd

    loaded, features = data[2]
    model = loaded.model
    tiled = pd.concat([features] * max(1, 10_000 // len(features)), ignore_index=True)
    matrix = model._matrix(tiled)  # the raw booster gets its numbers ready-made
    due = tiled["as_of"] + pd.to_timedelta(tiled["days_to_due"], unit="D")

    def best(call: Callable[[], Any]) -> float:
        times = []
        for _ in range(repeats):
            started = time.perf_counter()
            call()
            times.append(time.perf_counter() - started)
        return statistics.median(times)

    raw = best(lambda: model.booster_.predict(matrix, num_iteration=model.best_iteration_))
    proba = best(lambda: model.predict_proba(tiled))
    frame = best(lambda: model.predict_frame(tiled, tiled["as_of"], due))
    return {"rows": float(len(tiled)), "raw": raw, "predict_proba": proba, "predict_frame": frame}


def _spread(values: list[float], digits: int = 0) -> str:
    fmt = f"{{:.{digits}f}}"
    return f"{fmt.format(statistics.median(values))} [{fmt.format(min(values))}-{fmt.format(max(values))}]"


def report(runs: list[dict[str, Any]]) -> None:
    """One table: median [min-max] over the repeats."""

    def series(*path: str) -> list[float]:
        values = []
        for run in runs:
            value: Any = run
            for key in path:
                value = value[key]
            values.append(float(value))
        return values

    single_ratio = [
        o / p
        for o, p in zip(
            series("single", "payrisk", "rps"), series("single", "peer", "rps"), strict=True
        )
    ]
    batch_ratio = [
        o / p for o, p in zip(series("batch", "payrisk"), series("batch", "peer"), strict=True)
    ]
    proba_ratio = [
        p / r
        for p, r in zip(series("inproc", "predict_proba"), series("inproc", "raw"), strict=True)
    ]
    frame_ratio = [
        p / r
        for p, r in zip(series("inproc", "predict_frame"), series("inproc", "raw"), strict=True)
    ]
    lines = [
        (
            "(a) single customer, c=16: requests/s",
            _spread(series("single", "payrisk", "rps")),
            _spread(series("single", "peer", "rps")),
            _spread(single_ratio, 2),
            ">= 10x",
        ),
        (
            "(a) p50 latency, ms",
            _spread(series("single", "payrisk", "p50_ms")),
            _spread(series("single", "peer", "p50_ms")),
            "",
            "",
        ),
        (
            "(a) p99 latency, ms",
            _spread(series("single", "payrisk", "p99_ms")),
            _spread(series("single", "peer", "p99_ms")),
            "",
            "payrisk < 50",
        ),
        (
            f"(b) refresh {series('batch', 'rows')[0]:.0f} open invoices: rows/s",
            _spread(series("batch", "payrisk")),
            _spread(series("batch", "peer")),
            _spread(batch_ratio, 2),
            ">= 5x",
        ),
        (
            f"(c) predict_proba vs raw booster, {series('inproc', 'rows')[0]:.0f} rows: ms",
            _spread([1000 * v for v in series("inproc", "predict_proba")], 1),
            _spread([1000 * v for v in series("inproc", "raw")], 1),
            _spread(proba_ratio, 2),
            "<= 2x",
        ),
        (
            "(c) predict_frame vs raw booster: ms",
            _spread([1000 * v for v in series("inproc", "predict_frame")], 1),
            _spread([1000 * v for v in series("inproc", "raw")], 1),
            _spread(frame_ratio, 2),
            "<= 2x",
        ),
    ]
    header = ("measure", "payrisk", "peer / raw", "ratio", "target")
    widths = [max(len(str(row[i])) for row in [header, *lines]) for i in range(5)]
    for row in [header, tuple("-" * width for width in widths), *lines]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


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
    ours_port, peer_port = free_port(), free_port()
    ours_env = {
        "PAYRISK_DATA_DIR": str(workdir),
        "PAYRISK_DATABASE_URL": facts["database_url"],
        "PAYRISK_MLFLOW_TRACKING_URI": facts["tracking_uri"],
        "PAYRISK_MODEL_POLL_SECONDS": "0",
    }
    ours = [
        str(BIN / "payrisk"),
        "serve",
        "--host",
        "127.0.0.1",
        "--port",
        str(ours_port),
        "--workers",
        "2",
    ]
    theirs = [
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
        str(peer_port),
        "-w",
        "2",
    ]
    base, peer = f"http://127.0.0.1:{ours_port}", f"http://127.0.0.1:{peer_port}"
    runs = []
    with (
        server(ours, ours_env, f"{base}/readyz", workdir / "payrisk-serve.log"),
        server(
            theirs,
            {"MLFLOW_TRACKING_URI": facts["tracking_uri"]},
            f"{peer}/ping",
            workdir / "mlflow-serve.log",
        ),
    ):
        for number in range(args.repeat):
            run = {
                "single": measure_single(base, peer, facts, data, args),
                "batch": measure_batch(base, peer, facts, data, args),
                "inproc": measure_inprocess(data),
            }
            print(f"repeat {number + 1}/{args.repeat}: {json.dumps(run)}", flush=True)
            runs.append(run)
    print(
        f"\nload average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores (shared machine)"
    )
    report(runs)


if __name__ == "__main__":
    main()
