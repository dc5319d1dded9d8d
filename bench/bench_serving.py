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
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from servers import BIN, free_port, payrisk_serve, server  # noqa: E402  (bench/ is sys.path[0])
from serving_measures import (  # noqa: E402
    customer_call,
    measure_inprocess,
    measure_peer_batches,
    measure_refresh,
    measure_single,
    peer_call,
    run_load,
)
from serving_report import report  # noqa: E402

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
        call = peer_call(records)
        asyncio.run(run_load(peer, call, 2 * args.concurrency, args.concurrency, 30))  # warm-up
        for _ in range(args.repeat):
            batch = measure_peer_batches(peer, records, args.peer_batches)
            single = measure_single(peer, call, args, process.pid)
            results["peer"].append({**single, "batch_rows_per_s": batch})
    for phase, entries in (("cold", 0), ("warm", 100_000)):
        port = free_port()
        base = f"http://127.0.0.1:{port}"
        with _payrisk(workdir, facts, port, entries, f"payrisk-serve-{phase}.log") as process:
            call = customer_call(facts["key"], customers, END)
            # warm-up. With the cache on: WARM_PASSES passes over every customer, each on
            # new connections, since the kernel gives a connection to one worker and one
            # worker may take most of them: every worker must have seen every customer.
            for _ in range(WARM_PASSES if entries else 1):
                warm = len(customers) if entries else 2 * args.concurrency
                asyncio.run(run_load(base, call, warm, args.concurrency, 900))
            for _ in range(args.repeat):
                run = measure_single(base, call, args, process.pid)
                if phase == "cold":
                    run |= measure_refresh(base, facts["key"], END)
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
