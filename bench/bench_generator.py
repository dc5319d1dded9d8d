"""Benchmark the synthetic ledger generator (``ledger.synthetic.generate_ledger``) on one core.

Usage::

    .venv/bin/python bench/bench_generator.py                       # 100k, 300k, 1M; 3 runs
    .venv/bin/python bench/bench_generator.py --customers 15000 --repeat 1
    .venv/bin/python bench/bench_generator.py --write parquet       # also time the files

Each run is a fresh process pinned to CPU 0 (``os.sched_setaffinity``), so the time is
one core's and the peak RSS is that run's own. Sizes are in customers over ``--years``
(3): about 22 invoices per customer and year, so 15,000 customers ~ 1M invoices.
Target (issue 2): 1M invoices in under a minute on one core.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import cast

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END = date(2026, 11, 30)
DEFAULT_CUSTOMERS = (1500, 4500, 15000)


def run_once(customers: int, years: float, seed: int, write: str | None) -> dict[str, float]:
    """Generate one ledger in this process; seconds, rows and this process's peak RSS."""
    from ledger.synthetic import (
        GeneratorConfig,
        LedgerFormat,
        generate_chunks,
        generate_ledger,
        write_generated,
    )

    os.sched_setaffinity(0, {0})
    config = GeneratorConfig(customers=customers, years=years, seed=seed, end=END)
    started = time.perf_counter()
    if write is None:
        invoices = len(generate_ledger(config).ledger.invoices)
    else:
        with tempfile.TemporaryDirectory() as folder:
            file_format = cast("LedgerFormat", write)
            counts = write_generated(generate_chunks(config), Path(folder), file_format)
            invoices = counts["invoices"]
    seconds = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"invoices": invoices, "seconds": seconds, "peak_mb": peak_mb}


def run_in_child(customers: int, years: float, seed: int, write: str | None) -> dict[str, float]:
    command = [sys.executable, __file__, "--child", str(customers), "--years", str(years)]
    command += ["--seed", str(seed)] + (["--write", write] if write else [])
    finished = subprocess.run(command, check=True, capture_output=True, text=True)
    result: dict[str, float] = json.loads(finished.stdout.strip().splitlines()[-1])
    return result


def print_table(rows: list[dict[str, object]], what: str) -> None:
    print(f"\nsynthetic ledger generator, one core, {what}")
    header = (
        f"{'customers':>9} {'invoices':>10} {'seconds':>8} {'spread':>13} "
        f"{'invoices/s':>11} {'peak RSS MB':>11}"
    )
    print(header)
    print("-" * len(header))
    for row in rows:
        print(
            f"{row['customers']:>9,} {row['invoices']:>10,} {row['seconds']:>8.2f} "
            f"{row['spread']:>13} {row['rate']:>11,.0f} {row['peak_mb']:>11,.0f}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, nargs="+", default=list(DEFAULT_CUSTOMERS))
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--write", choices=("csv", "parquet"), default=None)
    parser.add_argument("--child", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child is not None:
        print(json.dumps(run_once(args.child, args.years, args.seed, args.write)))
        return
    os.sched_setaffinity(0, {0})
    rows = []
    for customers in args.customers:
        runs = [
            run_in_child(customers, args.years, args.seed, args.write) for _ in range(args.repeat)
        ]
        seconds = [run["seconds"] for run in runs]
        median = statistics.median(seconds)
        rows.append(
            {
                "customers": customers,
                "invoices": int(runs[0]["invoices"]),
                "seconds": median,
                "spread": f"{min(seconds):.2f}-{max(seconds):.2f}",
                "rate": runs[0]["invoices"] / median,
                "peak_mb": statistics.median(run["peak_mb"] for run in runs),
            }
        )
    what = f"{args.years:g} years, median of {args.repeat} run(s)"
    what += f", streamed to {args.write} files" if args.write else ", in memory"
    print_table(rows, what)


if __name__ == "__main__":
    main()
