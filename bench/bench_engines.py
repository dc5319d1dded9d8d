"""Benchmark the pandas and dask engines building the training frame (snapshots + features).

Usage::

    .venv/bin/python bench/bench_engines.py --invoices 1000000 3000000
    .venv/bin/python bench/bench_engines.py --invoices 1000000 --engines dask --workers 2

Per size, a partitioned Parquet dataset is generated once (``ledger.synthetic``, chunks
of 1000 customers, ~22 invoices per customer and year over 3 years) under ``--data-dir``.
Each engine then runs in a fresh process tree while this process samples the RSS of
every process in it (client, scheduler, nannies, workers) every 0.2 s:

- pandas: read the dataset whole (validated), ``build_training_frame`` in memory;
- dask: a ``LocalCluster`` of ``--workers`` single-threaded worker processes limited to
  ``--worker-memory`` each; the same ``build_training_frame`` per customer partition,
  validated, written to Parquet by the workers (the frame is not collected).

Printed: seconds, training rows, peak RSS of the whole tree, the largest peak of any
single child process (a worker) against the worker limit, and the 1-minute load average
before/after each run (the machine is shared). A run whose tree passes ``--rss-cap-gib``
is killed and reported "over cap": its peak is then a lower bound of what it needs.
The oracle is left out.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import psutil

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

INVOICES_PER_CUSTOMER = 75  # what the generator gives over 3 years, measured
GIB = 2**30


def ensure_dataset(data_dir: Path, invoices: int) -> Path:
    """The partitioned dataset of about ``invoices`` invoices, generated if missing."""
    from datetime import date

    from ledger.synthetic import GeneratorConfig, generate_chunks
    from ledger.synthetic.partitioned import write_partitioned

    folder = data_dir / f"ledger-{invoices}"
    if (folder / "invoices").is_dir():
        return folder
    shutil.rmtree(folder, ignore_errors=True)
    customers = max(invoices // INVOICES_PER_CUSTOMER, 1)
    config = GeneratorConfig(customers=customers, years=3, seed=11, end=date(2026, 11, 30))
    started = time.perf_counter()
    counts = write_partitioned(generate_chunks(config), folder)
    print(
        f"generated {counts['invoices']:,} invoices ({customers:,} customers) in "
        f"{time.perf_counter() - started:.0f} s -> {folder}",
        flush=True,
    )
    return folder


def dataset_invoices(dataset: Path) -> int:
    """Invoices in the dataset, from the Parquet footers."""
    import pyarrow.parquet as pq

    parts = (dataset / "invoices").glob("*.parquet")
    return sum(pq.ParquetFile(path).metadata.num_rows for path in parts)


def run_pandas(dataset: Path) -> dict[str, float]:
    from payrisk.settings import Settings
    from training.dataset import build_training_frame
    from training.engines.pandas import read_dataset

    ledger, _ = read_dataset(str(dataset))
    frame = build_training_frame(ledger, Settings())
    return {"rows": len(frame)}


def run_dask(dataset: Path, out_dir: Path, workers: int, worker_memory: str) -> dict[str, float]:
    from payrisk.settings import Settings
    from training.engines.cluster import dask_client
    from training.engines.dask import data_cutoff, load_dataset, training_frame_graph

    settings = Settings(dask_workers=workers, dask_worker_memory=worker_memory)
    shutil.rmtree(out_dir, ignore_errors=True)
    with dask_client(settings, processes=True) as client:
        frames, facts = load_dataset(str(dataset), client)
        frames.pop("oracle", None)
        graph = training_frame_graph(frames, settings, facts, data_cutoff(facts, settings))
        client.compute(graph.to_parquet(str(out_dir), write_index=False, compute=False)).result()
    import pyarrow.parquet as pq

    rows = sum(pq.ParquetFile(path).metadata.num_rows for path in out_dir.glob("*.parquet"))
    return {"rows": rows, "partitions": graph.npartitions}


def _tree_rss(root: psutil.Process) -> tuple[int, dict[int, int]] | None:
    """RSS of ``root`` plus its descendants, and each descendant's; None if one vanished."""
    import psutil

    try:
        children = root.children(recursive=True)
        rss = {p.pid: p.memory_info().rss for p in children}
        return root.memory_info().rss + sum(rss.values()), rss
    except psutil.Error:
        return None  # a process ended between listing and reading


def _kill_tree(root: psutil.Process) -> None:
    import psutil

    for process in [*root.children(recursive=True), root]:
        with contextlib.suppress(psutil.Error):
            process.kill()


def measure(command: list[str], rss_cap_gib: float) -> dict[str, Any]:
    """Run ``command``; sample its process tree's RSS; its JSON result plus the peaks.

    A tree above ``rss_cap_gib`` is killed (so a run that would exhaust the shared
    machine stops first) and reported with ``status`` "over cap".
    """
    import psutil

    started, load_before = time.perf_counter(), os.getloadavg()[0]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    root = psutil.Process(process.pid)
    tree_peak, status = 0, "ok"
    child_peaks: dict[int, int] = {}
    while process.poll() is None:
        sample = _tree_rss(root)
        if sample is not None:
            tree_peak = max(tree_peak, sample[0])
            for pid, value in sample[1].items():
                child_peaks[pid] = max(child_peaks.get(pid, 0), value)
            if tree_peak > rss_cap_gib * GIB:
                status = "over cap"
                _kill_tree(root)
                process.wait()
                break
        time.sleep(0.2)
    output = process.stdout.read() if process.stdout else ""
    if status == "ok" and process.returncode != 0:
        raise RuntimeError(f"{' '.join(command)} failed with exit code {process.returncode}")
    result = json.loads(output.strip().splitlines()[-1]) if status == "ok" else {"rows": 0}
    return result | {
        "status": status,
        "seconds": time.perf_counter() - started,
        "tree_peak_gib": tree_peak / GIB,
        "child_peak_gib": max(child_peaks.values(), default=0) / GIB,
        "load_1min": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--invoices", type=int, nargs="+", default=[1_000_000])
    parser.add_argument("--engines", nargs="+", default=["pandas", "dask"])
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--worker-memory", default="4GiB")
    parser.add_argument("--data-dir", type=Path, default=Path("/tmp/payrisk-bench"))
    parser.add_argument(
        "--rss-cap-gib",
        type=float,
        default=14.0,
        help="kill a run whose process tree exceeds this RSS (reported as 'over cap')",
    )
    parser.add_argument("--run", choices=["pandas", "dask"], help=argparse.SUPPRESS)
    parser.add_argument("--dataset", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.run == "pandas":
        print(json.dumps(run_pandas(args.dataset)))
        return
    if args.run == "dask":
        out_dir = args.dataset.parent / f"{args.dataset.name}-features"
        print(json.dumps(run_dask(args.dataset, out_dir, args.workers, args.worker_memory)))
        return
    rows: list[dict[str, Any]] = []
    for invoices in args.invoices:
        dataset = ensure_dataset(args.data_dir, invoices)
        for engine in args.engines:
            command = [sys.executable, __file__, "--run", engine, "--dataset", str(dataset)]
            command += ["--workers", str(args.workers), "--worker-memory", args.worker_memory]
            result = measure(command, args.rss_cap_gib)
            rows.append({"invoices": dataset_invoices(dataset), "engine": engine, **result})
            print(json.dumps(rows[-1]), flush=True)
    print_table(rows, args)


def print_table(rows: list[dict[str, Any]], args: argparse.Namespace) -> None:
    print(f"\nworkers: {args.workers} x {args.worker_memory} (dask); 2-core machine")
    header = (
        f"{'invoices':>10} {'engine':>7} {'seconds':>8} {'rows':>11} "
        f"{'tree peak GiB':>14} {'largest child GiB':>18} {'load 1m':>11}  status"
    )
    print(header)
    for row in rows:
        child = f"{row['child_peak_gib']:.2f}" if row["engine"] == "dask" else "-"
        load = "/".join(f"{value:.1f}" for value in row["load_1min"])
        print(
            f"{row['invoices']:>10,} {row['engine']:>7} {row['seconds']:>8.0f} "
            f"{int(row['rows']):>11,} {row['tree_peak_gib']:>14.2f} {child:>18} "
            f"{load:>11}  {row['status']}"
        )


if __name__ == "__main__":
    main()
