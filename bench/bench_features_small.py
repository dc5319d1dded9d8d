"""Benchmark ``features.build.build_features`` on small inputs, the way stored-mode scoring
calls it: one customer's (or a few customers') ledger rows, their invoices open at as_of.

Usage::

    .venv/bin/python bench/bench_features_small.py
    .venv/bin/python bench/bench_features_small.py --customers 1 8 --sets 20 --repeat 5
    .venv/bin/python bench/bench_features_small.py --profile 1   # cProfile of 1-customer calls

Ledger: ``ledger.synthetic.generate_ledger`` with the demo's settings (400 customers,
3 years, seed 7, ending 2026-11-30; see the Makefile). A call's input is what
``GET /v1/customers/{id}/risk`` builds: the customers' rows of every table, each ordered
by primary key (``serving.ledger_reads.CustomerRows.ledger``), and the rows of
``serving.scoring.open_invoice_rows`` at as_of. Only ``build_features`` is timed; the
table gives wall and CPU time per call (on a shared machine CPU time is the steadier one:
quote ``uptime`` beside either, and compare before/after in the same conditions).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from features.build import build_features  # noqa: E402
from ledger.frames import Ledger  # noqa: E402
from ledger.synthetic import generate_ledger  # noqa: E402
from ledger.synthetic.config import GeneratorConfig  # noqa: E402
from serving.scoring import open_invoice_rows  # noqa: E402

AS_OF = pd.Timestamp("2026-11-30")
_PRIMARY_KEYS = {
    "customers": "customer_id",
    "invoices": "invoice_id",
    "payments": "payment_id",
    "activities": "activity_id",
}


@dataclass(frozen=True)
class Call:
    """One ``build_features`` input: a few customers' ledger and their open-invoice rows."""

    ledger: Ledger
    rows: pd.DataFrame


def customers_ledger(ledger: Ledger, customer_ids: list[str]) -> Ledger:
    """The given customers' rows of every table, ordered by primary key (as served)."""
    tables = {}
    for name, table in ledger.tables().items():
        picked = table[table["customer_id"].isin(customer_ids)]
        tables[name] = picked.sort_values(_PRIMARY_KEYS[name]).reset_index(drop=True)
    return Ledger(**tables)


def make_calls(ledger: Ledger, per_call: int, sets: int, seed: int) -> list[Call]:
    """``sets`` random groups of ``per_call`` customers (0: the whole ledger, one group)."""
    if per_call == 0:
        return [Call(ledger, open_invoice_rows(ledger, AS_OF))]
    ids = ledger.customers["customer_id"].astype(str).to_numpy()
    rng = np.random.default_rng(seed + per_call)
    calls = []
    for _ in range(sets):
        chosen = rng.choice(ids, size=min(per_call, len(ids)), replace=False).tolist()
        part = customers_ledger(ledger, chosen)
        calls.append(Call(part, open_invoice_rows(part, AS_OF)))
    return calls


def time_calls(calls: list[Call], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU milliseconds per ``build_features`` call, each call run ``repeat``
    times (CPU time is less disturbed by other processes on a shared machine)."""
    build_features(calls[0].ledger, calls[0].rows)  # warm-up: imports, first-call caches
    wall, cpu = [], []
    for call in calls:
        for _ in range(repeat):
            started, cpu_started = time.perf_counter(), time.process_time()
            build_features(call.ledger, call.rows)
            cpu.append((time.process_time() - cpu_started) * 1000)
            wall.append((time.perf_counter() - started) * 1000)
    return wall, cpu


def profile_calls(calls: list[Call], repeat: int, top: int) -> None:
    """cProfile of the calls, printed sorted by cumulative and by own time."""
    build_features(calls[0].ledger, calls[0].rows)
    profiler = cProfile.Profile()
    profiler.enable()
    for call in calls:
        for _ in range(repeat):
            build_features(call.ledger, call.rows)
    profiler.disable()
    for order in ("cumulative", "tottime"):
        print(f"--- sorted by {order} ---")
        pstats.Stats(profiler).strip_dirs().sort_stats(order).print_stats(top)


def _print_table(results: list[tuple[str, list[Call], tuple[list[float], list[float]]]]) -> None:
    from rich.console import Console
    from rich.table import Table

    load = ", ".join(f"{value:.2f}" for value in os.getloadavg())
    table = Table(
        title="build_features on small inputs (stored-mode scoring)",
        caption=f"demo ledger, as_of {AS_OF.date()}; load average {load}",
    )
    headers = (
        "customers/call",
        "calls",
        "invoices/call",
        "rows/call",
        "median ms",
        "min-max ms",
        "median CPU ms",
    )
    for header in headers:
        table.add_column(header, justify="right")
    for label, calls, (wall, cpu) in results:
        table.add_row(
            label,
            str(len(wall)),
            f"{statistics.median(len(call.ledger.invoices) for call in calls):,.0f}",
            f"{statistics.median(len(call.rows) for call in calls):,.0f}",
            f"{statistics.median(wall):.2f}",
            f"{min(wall):.2f}-{max(wall):.2f}",
            f"{statistics.median(cpu):.2f}",
        )
    Console(width=120).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument(
        "--customers", type=int, nargs="+", default=[1, 8, 64, 0], help="per call; 0 = all"
    )
    parser.add_argument("--sets", type=int, default=20, help="customer groups per size")
    parser.add_argument("--repeat", type=int, default=3, help="runs of each group")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--profile", type=int, metavar="CUSTOMERS", help="profile this size")
    parser.add_argument("--top", type=int, default=35, help="profile lines to print")
    args = parser.parse_args()
    ledger = generate_ledger(GeneratorConfig(customers=400, years=3, seed=7)).ledger
    if args.profile is not None:
        profile_calls(make_calls(ledger, args.profile, args.sets, args.seed), args.repeat, args.top)
        return
    results = []
    for per_call in args.customers:
        calls = make_calls(ledger, per_call, args.sets, args.seed)
        repeat = args.repeat if per_call else max(args.repeat, 3)
        results.append((str(per_call or "all"), calls, time_calls(calls, repeat)))
    _print_table(results)


if __name__ == "__main__":
    main()
