"""Benchmark ``features.build.build_features`` on generated ledgers with their snapshots.

Usage::

    .venv/bin/python bench/bench_features.py --sizes 100000 300000 --repeat 3
    .venv/bin/python bench/bench_features.py --sizes 1000000 --repeat 1

Ledger: ``ledger.synthetic.generate_ledger`` when it exists (customers sized so the
ledger has about the requested invoices), else a bench-local random ledger with the same
tables (see ``random_ledger``). Rows: ``training.snapshots.snapshot_rows`` when it exists
(issue date plus a 14-day grid while open), else the local ``snapshot_rows_local``
(issue date, then every 14 days while open). Each size runs in a fresh process so its
peak RSS is its own. Target (issue 3): 1M invoices in < 180 s and < 8 GB peak.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ledger.frames import Ledger  # noqa: E402
from ledger.settlement import settled_dates  # noqa: E402

EVERY_DAYS = 14
END = pd.Timestamp("2026-11-30")
YEARS = 3


def random_ledger(n_invoices: int, seed: int = 0) -> Ledger:
    """A random ledger: ~100 invoices per customer over 3 years, payments (some in two
    instalments), reminders, promises and disputes; ~5% of invoices still open."""
    rng = np.random.default_rng(seed)
    n_customers = max(n_invoices // 100, 1)
    start_day = int(
        (END - pd.Timedelta(days=365 * YEARS)).to_datetime64().astype("datetime64[D]").astype(int)
    )
    customer_of = np.sort(rng.integers(0, n_customers, n_invoices))
    issue = start_day + rng.integers(0, 365 * YEARS, n_invoices)
    terms_days = rng.choice([30, 60, 90], n_invoices)
    due = issue + terms_days
    discipline = rng.normal(5, 15, n_customers)[customer_of]
    late = np.maximum(rng.normal(discipline, 10), -terms_days).round().astype(np.int64)
    paid = due + late
    end_day = int(END.to_datetime64().astype("datetime64[D]").astype(int))
    paid = np.where(paid > end_day, -1, paid)
    ids = np.char.add("I", np.arange(n_invoices).astype(str))
    cust_ids = np.char.add("C", customer_of.astype(str))
    day = lambda d: d.astype("datetime64[D]").astype("datetime64[ns]")  # noqa: E731
    invoices = pd.DataFrame(
        {
            "invoice_id": ids,
            "customer_id": cust_ids,
            "issue_date": day(issue),
            "due_date": day(due),
            "amount": rng.lognormal(8, 1, n_invoices).round(2),
            "currency": rng.choice(["USD", "EUR", "ILS"], n_invoices),
            "terms": np.char.add("net", terms_days.astype(str)),
            "disputed": rng.random(n_invoices) < 0.03,
            "paperless": rng.random(n_invoices) < 0.7,
            "paid_date": np.where(paid > 0, day(np.maximum(paid, issue)), np.datetime64("NaT")),
        }
    )
    return Ledger.from_frames(
        invoices=invoices,
        payments=_random_payments(rng, invoices),
        activities=_random_activities(rng, invoices),
    )


def _random_payments(rng: np.random.Generator, invoices: pd.DataFrame) -> pd.DataFrame:
    paid = invoices[invoices["paid_date"].notna()]
    split = rng.random(len(paid)) < 0.2
    first = np.where(split, (paid["amount"] * 0.4).round(2), paid["amount"])
    early = paid["paid_date"] - pd.to_timedelta(rng.integers(1, 20, len(paid)), unit="D")
    early = early.where(early >= paid["issue_date"], paid["issue_date"])
    frames = [
        pd.DataFrame(
            {
                "invoice_id": paid["invoice_id"],
                "customer_id": paid["customer_id"],
                "payment_date": paid["paid_date"].where(~split, early),
                "amount": first,
            }
        ),
        pd.DataFrame(
            {
                "invoice_id": paid["invoice_id"][split],
                "customer_id": paid["customer_id"][split],
                "payment_date": paid["paid_date"][split],
                "amount": (paid["amount"] - first)[split],
            }
        ),
    ]
    payments = pd.concat(frames, ignore_index=True)
    return payments.assign(payment_id=np.char.add("P", np.arange(len(payments)).astype(str)))


def _random_activities(rng: np.random.Generator, invoices: pd.DataFrame) -> pd.DataFrame:
    picked = invoices.sample(frac=0.5, random_state=int(rng.integers(1 << 31)))
    kind = rng.choice(
        ["reminder", "call", "promise", "dispute_opened", "note"],
        len(picked),
        p=[0.5, 0.2, 0.15, 0.05, 0.1],
    )
    date = picked["due_date"] + pd.to_timedelta(rng.integers(1, 30, len(picked)), unit="D")
    promised = date + pd.to_timedelta(rng.integers(3, 20, len(picked)), unit="D")
    return pd.DataFrame(
        {
            "activity_id": np.char.add("A", np.arange(len(picked)).astype(str)),
            "customer_id": picked["customer_id"].to_numpy(),
            "invoice_id": picked["invoice_id"].to_numpy(),
            "date": date.to_numpy(),
            "kind": kind,
            "promised_date": np.where(kind == "promise", promised, np.datetime64("NaT")),
            "promised_amount": np.where(kind == "promise", picked["amount"], np.nan),
        }
    )


def snapshot_rows_local(ledger: Ledger, every_days: int = EVERY_DAYS) -> pd.DataFrame:
    """The invoice's issue date, then every ``every_days`` while open (up to END)."""
    invoices = ledger.invoices
    settled = settled_dates(invoices, ledger.payments).fillna(END + pd.Timedelta(days=1))
    open_days = (settled.clip(upper=END + pd.Timedelta(days=1)) - invoices["issue_date"]).dt.days
    counts = np.maximum(-(-open_days.to_numpy() // every_days), 1)
    positions = np.repeat(np.arange(len(invoices)), counts)
    step = np.arange(len(positions)) - np.repeat(np.cumsum(counts) - counts, counts)
    as_of = invoices["issue_date"].to_numpy()[positions] + step * np.timedelta64(every_days, "D")
    return pd.DataFrame(
        {"invoice_id": invoices["invoice_id"].array.take(positions), "as_of": as_of}
    )


def make_inputs(n_invoices: int) -> tuple[Ledger, pd.DataFrame, str]:
    """The ledger, its snapshot rows and a note on where each came from."""
    try:
        from ledger.synthetic import generate_ledger  # type: ignore[attr-defined]
        from ledger.synthetic.config import GeneratorConfig

        probe = generate_ledger(GeneratorConfig(customers=200, years=YEARS)).ledger
        per_customer = max(len(probe.invoices) / 200, 1.0)
        config = GeneratorConfig(customers=max(int(n_invoices / per_customer), 1), years=YEARS)
        ledger, source = generate_ledger(config).ledger, "generator"
    except ImportError:
        ledger, source = random_ledger(n_invoices), "bench-local random ledger"
    try:
        from training.snapshots import snapshot_rows

        rows = snapshot_rows(
            ledger.invoices, cutoff=END, every_days=EVERY_DAYS, payments=ledger.payments
        )
        source += " + training.snapshots"
    except ImportError:
        rows = snapshot_rows_local(ledger)
        source += " + local snapshots"
    return ledger, rows, source


def run_one(n_invoices: int, repeat: int) -> dict[str, object]:
    """Build inputs, then time ``build_features`` ``repeat`` times (this process only)."""
    from features.build import build_features

    ledger, rows, source = make_inputs(n_invoices)
    seconds, cpu_seconds = [], []
    for _ in range(repeat):
        started, cpu_started = time.perf_counter(), time.process_time()
        frame = build_features(ledger, rows)
        seconds.append(time.perf_counter() - started)
        cpu_seconds.append(time.process_time() - cpu_started)
        del frame
    peak_gb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2
    return {
        "invoices": len(ledger.invoices),
        "rows": len(rows),
        "seconds": seconds,
        "cpu_seconds": cpu_seconds,
        "peak_rss_gb": peak_gb,
        "source": source,
    }


def _print_table(results: list[dict[str, object]]) -> None:
    from rich.console import Console
    from rich.table import Table

    sources = sorted({str(result["source"]) for result in results})
    table = Table(title="build_features", caption="inputs: " + "; ".join(sources))
    headers = ("invoices", "rows", "median s", "min-max s", "rows/s", "median CPU s", "peak RSS GB")
    for header in headers:
        table.add_column(header, justify="right")
    for result in results:
        seconds: list[float] = result["seconds"]  # type: ignore[assignment]
        median = statistics.median(seconds)
        table.add_row(
            f"{result['invoices']:,}",
            f"{result['rows']:,}",
            f"{median:.1f}",
            f"{min(seconds):.1f}-{max(seconds):.1f}",
            f"{int(result['rows']) / median:,.0f}",  # type: ignore[call-overload]
            f"{statistics.median(result['cpu_seconds']):.1f}",  # type: ignore[arg-type]
            f"{result['peak_rss_gb']:.2f}",
        )
    Console(width=120).print(table)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[100_000, 300_000])
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--one", type=int, help=argparse.SUPPRESS)  # child process mode
    args = parser.parse_args()
    if args.one:
        print(json.dumps(run_one(args.one, args.repeat)))
        return
    results = []
    for size in args.sizes:
        child = subprocess.run(
            [sys.executable, __file__, "--one", str(size), "--repeat", str(args.repeat)],
            check=True,
            capture_output=True,
            text=True,
        )
        results.append(json.loads(child.stdout.strip().splitlines()[-1]))
    _print_table(results)


if __name__ == "__main__":
    main()
