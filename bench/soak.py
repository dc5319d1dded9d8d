"""Soak: a mixed workload at concurrency 32 against `payrisk serve --workers 2` on PostgreSQL.

Usage::

    .venv/bin/python bench/soak.py                 # 120 s, concurrency 32 (make soak)
    .venv/bin/python bench/soak.py --seconds 600 --customers 400
    .venv/bin/python bench/soak.py --read-only      # the same without the ingest writes

Preparation, every run from scratch: a throwaway database on the PostgreSQL server at
``--postgres`` (dropped at the end), a generated ledger (``--customers`` x ``--years``)
upserted into it, a small champion trained on it (fewer boosting rounds than the
default: minutes matter more than AUC here) in an MLflow store in a temporary folder,
an API key with every scope, then ``payrisk serve --workers 2`` on 127.0.0.1 and a
``POST /v1/scores:refresh`` so the worklist has scores.

The load: ``--concurrency`` asyncio workers (httpx2, keep-alive) each picking the next
request from a fixed mix: stored scoring of a customer (``GET /v1/customers/{id}/risk``),
ingest upserts (``PUT /v1/invoices/{id}`` re-sending a stored invoice with a new amount,
``POST /v1/activities``), the worklist API and the worklist and customer pages (signed
in once per worker). A warm-up of ``--warmup`` seconds is not counted; then
``--seconds`` of load. Reported: requests/s, p50/p99 per route (scoring also split by its
``X-Payrisk-Cache`` header: answers from the cache and computed ones), answers by status, the
server's resident memory (the supervisor, both workers and their bulk children, from
/proc) at the start and end of the timed run, the CPU each kind of server process used
meanwhile (the workers' is what scoring, ingest and warming cost; the bulk children's
is the pages', and fills whatever CPU is left), and the client's own CPU use (near 100%
would mean the client, not the server, is the bottleneck). Loopback only; bounded in time.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

BIN = Path(sys.executable).parent

from servers import free_port, payrisk_serve, server  # noqa: E402  (bench/ is sys.path[0])
from soak_load import END, MIX, Tally, run_load  # noqa: E402

TARGET_P99_SCORE_MS = 100.0
TARGET_MEMORY_GROWTH = 0.10


def prepare(workdir: Path, database_url: str, customers: int, years: float) -> dict[str, Any]:
    """Ledger in the database, a trained champion, a key: what the server and load need."""
    from ledger.store import LedgerStore
    from ledger.synthetic import GeneratorConfig, generate_ledger
    from models.registry import CHAMPION_ALIAS, open_registry, set_alias
    from payrisk.settings import Settings
    from serving.auth import SCOPES, create_key
    from training.pipeline import train
    from training.tracking import log_training_run

    settings = Settings(
        data_dir=workdir,
        database_url=database_url,
        model_n_estimators=200,
        bootstrap_rounds=0,
        backtest_folds=1,
        model_n_jobs=1,
    )
    ledger = generate_ledger(
        GeneratorConfig(customers=customers, years=years, seed=7, end=END)
    ).ledger
    with LedgerStore.from_url(database_url) as store:
        store.migrate()
        store.upsert(ledger)
        key = create_key(store, "soak", SCOPES).key
    started = time.perf_counter()
    run = log_training_run(train(ledger, settings), settings)
    print(f"trained version {run.version} in {time.perf_counter() - started:.0f} s", flush=True)
    set_alias(
        open_registry(settings.resolved_tracking_uri), "payment-risk", CHAMPION_ALIAS, run.version
    )
    invoices = ledger.invoices
    open_invoices = invoices[invoices["paid_date"].isna()]
    return {
        "tracking_uri": settings.resolved_tracking_uri,
        "key": key,
        "customers": sorted(open_invoices["customer_id"].astype(str).unique()),
        "invoices": [
            {
                "invoice_id": str(row.invoice_id),
                "customer_id": str(row.customer_id),
                "issue_date": row.issue_date.date().isoformat(),
                "due_date": row.due_date.date().isoformat(),
                "amount": float(row.amount),
            }
            for row in invoices.tail(500).itertuples()
        ],
    }


def _percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return 1000 * ordered[min(len(ordered) - 1, int(share * len(ordered)))]


def report(result: dict[str, Any], args: argparse.Namespace) -> bool:
    """Print the tables; True when every target is met."""
    tally: Tally = result["tally"]
    wall = result["wall"]
    total = sum(len(values) for values in tally.latencies.values())
    print(
        f"\nsoak: {args.seconds:.0f} s counted after {args.warmup:.0f} s warm-up, concurrency "
        f"{args.concurrency}, 2 workers, PostgreSQL; load {os.getloadavg()[0]:.1f} "
        f"(1 min) at the end, {os.cpu_count()} CPUs"
    )
    header = f"{'route':<18}{'requests':>9}{'req/s':>8}{'p50 ms':>9}{'p99 ms':>9}  statuses"
    print(header + "\n" + "-" * len(header))
    labels = [shown for label in MIX for shown in (label, f"{label} (hit)", f"{label} (miss)")]
    for label in labels:
        values = tally.latencies.get(label, [])
        if not values:
            continue
        statuses = ", ".join(f"{code}: {n}" for code, n in sorted(tally.statuses[label].items()))
        print(
            f"{label:<18}{len(values):>9}{len(values) / wall:>8.1f}"
            f"{_percentile(values, 0.5):>9.1f}{_percentile(values, 0.99):>9.1f}  {statuses}"
        )
    print(f"{'all':<18}{total:>9}{total / wall:>8.1f}")
    start, end = sum(result["memory_start"].values()), sum(result["memory_end"].values())
    growth = (end - start) / start if start else 0.0
    print(
        f"\nserver RSS (supervisor, workers, bulk children): start {start:.0f} MB, "
        f"end {end:.0f} MB "
        f"({growth:+.1%}), peak {max(result['samples_mb']):.0f} MB; per process at end: "
        + ", ".join(f"{mb:.0f}" for mb in result["memory_end"].values())
    )
    samples = result["samples_mb"]
    every = max(1, len(samples) // 12)
    print("server RSS over the run, MB: " + " ".join(f"{mb:.0f}" for mb in samples[::every]))
    print(
        "server CPU over the counted run, cores: "
        + ", ".join(
            f"{role} {seconds / wall:.2f}" for role, seconds in result["server_cpu"].items()
        )
        + f"; the workers' per answer: {1000 * result['server_cpu']['workers'] / total:.1f} ms"
    )
    print(f"client CPU: {result['client_cpu']:.0%} of one core")
    errors = sum(
        n for counts in tally.statuses.values() for code, n in counts.items() if code >= 500
    )
    p99_score = _percentile(tally.latencies["score"], 0.99) if tally.latencies["score"] else 0.0
    targets = [
        ("zero 5xx", errors == 0, f"{errors}"),
        (
            f"p99 scoring < {TARGET_P99_SCORE_MS:.0f} ms",
            p99_score < TARGET_P99_SCORE_MS,
            f"{p99_score:.1f} ms",
        ),
        (
            f"memory growth < {TARGET_MEMORY_GROWTH:.0%}",
            growth < TARGET_MEMORY_GROWTH,
            f"{growth:+.1%}",
        ),
    ]
    print("\ntarget                      measured    verdict")
    for name, met, measured in targets:
        print(f"{name:<28}{measured:<12}{'met' if met else 'MISSED'}")
    for (label, status), example in sorted(tally.examples.items()):
        print(f"  first {status} of {label}: {example}")
    for failure in tally.failures[:10]:
        print(f"  failure: {failure}")
    return all(met for _, met, _ in targets)


@contextmanager
def serving(env: dict[str, str], workdir: Path) -> Iterator[tuple[str, int]]:
    """``payrisk serve --workers 2`` on a free port until the block ends: (base URL, pid)."""
    port = free_port()
    base_url = f"http://127.0.0.1:{port}"
    with server(payrisk_serve(port), env, f"{base_url}/readyz", workdir / "serve.log") as process:
        yield base_url, process.pid


def _database(admin_url: str, name: str, create: bool) -> None:
    import sqlalchemy as sa

    engine = sa.create_engine(admin_url, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        statement = (
            f'create database "{name}"'
            if create
            else (f'drop database if exists "{name}" with (force)')
        )
        connection.execute(sa.text(statement))
    engine.dispose()


def _server_setting(text: str) -> tuple[str, str]:
    """``PAYRISK_NAME=VALUE`` -> (name, value); anything else is refused, naming it."""
    name, equals, value = text.partition("=")
    if not equals or not name.startswith("PAYRISK_") or not name[len("PAYRISK_") :]:
        raise argparse.ArgumentTypeError(
            f"expected PAYRISK_NAME=VALUE (a server setting), got {text!r}"
        )
    return name, value


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--seconds", type=float, default=120.0, help="counted load, seconds")
    parser.add_argument("--warmup", type=float, default=15.0, help="uncounted load first")
    parser.add_argument("--concurrency", type=int, default=32)
    parser.add_argument("--customers", type=int, default=200)
    parser.add_argument("--years", type=float, default=2.0)
    parser.add_argument("--read-only", action="store_true", help="no ingest in the mix")
    parser.add_argument(
        "--postgres",
        default=os.environ.get(
            "PAYRISK_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
        ),
        help="admin URL of the PostgreSQL server the throwaway database goes on",
    )
    parser.add_argument(
        "--server-setting",
        type=_server_setting,
        action="append",
        default=[],
        metavar="PAYRISK_NAME=VALUE",
        help="an environment setting of the server, e.g. PAYRISK_SCORE_WARM_SECONDS=0.1 "
        "(repeatable): to compare settings under the same load",
    )
    parser.add_argument(
        "--strict",
        action="store_true",
        help="exit 1 when a target is missed (default: report the verdicts, exit 0)",
    )
    args = parser.parse_args()
    name = f"payrisk_soak_{uuid.uuid4().hex[:10]}"
    database_url = args.postgres.rsplit("/", 1)[0] + "/" + name
    _database(args.postgres, name, create=True)
    try:
        with tempfile.TemporaryDirectory(prefix="payrisk-soak-") as folder:
            workdir = Path(folder)
            facts = prepare(workdir, database_url, args.customers, args.years)
            env = {
                "PAYRISK_DATA_DIR": str(workdir),
                "PAYRISK_DATABASE_URL": database_url,
                "PAYRISK_MLFLOW_TRACKING_URI": facts["tracking_uri"],
                "PAYRISK_MODEL_POLL_SECONDS": "0",
                "PAYRISK_LOG_LEVEL": "WARNING",
                # The worklist ranks across currencies (rates as in `make demo`).
                "PAYRISK_FX_RATES": '{"EUR": 1.08, "GBP": 1.27, "ILS": 0.27}',
                # Both workers must sign the page sessions with the same secret.
                "PAYRISK_SESSION_SECRET": secrets.token_urlsafe(32),
                **dict(args.server_setting),
            }
            with serving(env, workdir) as (base_url, pid):
                _refresh(base_url, facts["key"])
                result = asyncio.run(run_load(base_url, facts, args, pid))
            met = report(result, args)
    finally:
        _database(args.postgres, name, create=False)
    return 0 if met or not args.strict else 1


def _refresh(base_url: str, key: str) -> None:
    import httpx2 as httpx

    response = httpx.post(
        f"{base_url}/v1/scores:refresh",
        json={"as_of": END.isoformat()},
        headers={"Authorization": f"Bearer {key}"},
        timeout=600,
    )
    response.raise_for_status()
    print(f"refreshed {response.json()['invoices_scored']} invoice scores", flush=True)


if __name__ == "__main__":
    sys.exit(main())
