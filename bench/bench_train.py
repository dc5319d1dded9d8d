"""Benchmark `payrisk train` end to end on the demo ledger, stage by stage.

Usage::

    .venv/bin/python bench/bench_train.py                  # 400 customers x 3 years, 1 run
    .venv/bin/python bench/bench_train.py --repeat 3
    .venv/bin/python bench/bench_train.py --customers 100 --years 2

Each run is a fresh process with its own temporary folder: the generated ledger (CSV),
a SQLite ledger database and an MLflow store (SQLite + local artifacts). It takes the
path `payrisk train` takes -- import into the database, load it back, train, log and
register -- and times each stage: generate, import, load, features, fit, evaluate,
backtest (the last four from ``TrainingResult.durations_seconds``) and log (MLflow run,
plots, pyfunc, registration). Peak RSS is the process's high-water mark at the end of
each stage. With ``--repeat`` > 1 the table shows the median and the spread (max - min).
Target (issue 3): `payrisk train` on the demo ledger in under 3 minutes end to end.
"""

from __future__ import annotations

import argparse
import json
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

END = date(2026, 11, 30)
TRAIN_STAGES = ("features", "fit", "evaluate", "backtest")
# Per backtest fold, calibrated vs uncalibrated (PAYRISK_BACKTEST_FOLDS sets the folds).
FOLD_METRICS = ("brier_late", "brier_over_30", "brier_ordinal", "brier_multiclass")


def _peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def run_once(customers: int, years: float, seed: int) -> dict[str, Any]:
    """One end-to-end run in this process: seconds and peak RSS per stage, and metrics."""
    from ledger.importer import LedgerSources, import_ledger
    from ledger.store import LedgerStore
    from ledger.synthetic import GeneratorConfig, generate_ledger, read_oracle, write_generated
    from payrisk.settings import Settings
    from training.pipeline import train
    from training.tracking import log_training_run

    seconds: dict[str, float] = {}
    peak_mb: dict[str, float] = {}

    def lap(stage: str, started: float) -> float:
        seconds[stage] = time.perf_counter() - started
        peak_mb[stage] = _peak_rss_mb()
        return time.perf_counter()

    with tempfile.TemporaryDirectory(prefix="bench-train-") as folder:
        root = Path(folder)
        settings = Settings(data_dir=root / "data")
        settings.ensure_data_dir()
        clock = time.perf_counter()
        generated = generate_ledger(
            GeneratorConfig(customers=customers, years=years, seed=seed, end=END)
        )
        write_generated(generated, root / "ledger")
        clock = lap("generate", clock)
        with LedgerStore.from_url(settings.resolved_database_url) as store:
            import_ledger(LedgerSources(directory=root / "ledger"), None, store)
            clock = lap("import", clock)
            ledger = store.load()
        oracle = read_oracle(root / "ledger")
        clock = lap("load", clock)
        result = train(ledger, settings, oracle=oracle)
        for stage in TRAIN_STAGES:
            seconds[stage] = result.durations_seconds.get(stage, float("nan"))
            peak_mb[stage] = _peak_rss_mb()
        clock = time.perf_counter()
        run = log_training_run(result, settings)
        lap("log", clock)
    metrics = result.metrics.loc[result.metrics["slice"] == "all"]
    backtest = result.backtest.loc[result.backtest["metric"].isin(FOLD_METRICS)]
    return {
        "seconds": seconds,
        "peak_mb": peak_mb,
        "invoices": len(ledger.invoices),
        "version": run.version,
        "metrics": metrics.astype({"value": "float64"}).to_dict("records"),
        "backtest": backtest[["fold", "scorer", "metric", "value"]]
        .astype({"fold": "int64", "value": "float64"})
        .to_dict("records"),
    }


def _child(args: argparse.Namespace) -> dict[str, Any]:
    """Run one measurement in a fresh interpreter, so peak RSS is that run's own."""
    command = [sys.executable, __file__, "--child", "--customers", str(args.customers),
               "--years", str(args.years), "--seed", str(args.seed)]  # fmt: skip
    output = subprocess.run(command, check=True, capture_output=True, text=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _spread(values: list[float]) -> str:
    return f"{max(values) - min(values):.1f}" if len(values) > 1 else "-"


def print_table(runs: list[dict[str, Any]]) -> None:
    """Stage | median seconds | spread | peak RSS (MB), then the total and the metrics."""
    stages = list(runs[0]["seconds"])
    print(f"{'stage':<10} {'seconds':>9} {'spread':>8} {'peak RSS MB':>12}")
    for stage in stages:
        values = [run["seconds"][stage] for run in runs]
        peaks = [run["peak_mb"][stage] for run in runs]
        print(
            f"{stage:<10} {statistics.median(values):>9.1f} {_spread(values):>8} "
            f"{statistics.median(peaks):>12.0f}"
        )
    totals: list[float] = [sum(run["seconds"].values()) for run in runs]
    trains: list[float] = [
        sum(v for k, v in run["seconds"].items() if k not in ("generate", "import")) for run in runs
    ]
    print(f"{'total':<10} {statistics.median(totals):>9.1f} {_spread(totals):>8}")
    print(f"{'train+log':<10} {statistics.median(trains):>9.1f} {_spread(trains):>8}"
          "   (what `payrisk train` does after the import)")  # fmt: skip
    import pandas as pd

    from training.plots import headline_table, markdown_table

    print(f"\ninvoices: {runs[0]['invoices']}, runs: {len(runs)}; test metrics of the first run:\n")
    metrics = pd.DataFrame(runs[0]["metrics"])
    print(markdown_table(headline_table(metrics)))
    print("\ncalibration (truth_mse: mean (P - true P)^2, no label noise; issue 3's target):\n")
    print(markdown_table(calibration_table(metrics), float_format="{:.5f}"))
    print("\nper backtest fold (0 = the test above; change = calibrated - uncalibrated):\n")
    print(markdown_table(fold_table(pd.DataFrame(runs[0]["backtest"])), float_format="{:.5f}"))


def calibration_table(metrics: pd.DataFrame) -> pd.DataFrame:
    """Calibrated vs uncalibrated model (and the oracle): Brier, distance to the truth, log loss.

    ``brier_ordinal`` / ``brier_multiclass`` need bucket probabilities: NaN for the oracle.
    """
    wanted = ["brier_late", "brier_over_30", "brier_ordinal", "brier_multiclass",
              "truth_mse_late", "truth_mse_over_30", "log_loss", "log_loss_matured"]  # fmt: skip
    rows = metrics.loc[metrics["scorer"].isin(["model", "model_uncalibrated", "oracle"])]
    wide = rows.pivot_table(index="scorer", columns="metric", values="value", dropna=False)
    return wide.reindex(columns=[name for name in wanted if name in wide.columns])


def fold_table(backtest: pd.DataFrame) -> pd.DataFrame:
    """Per fold: ``FOLD_METRICS`` of the calibrated and raw model, and the change."""
    import pandas as pd

    wide = backtest.pivot_table(index=["fold", "metric"], columns="scorer", values="value")
    parts = {
        "calibrated": wide["model"],
        "uncalibrated": wide["model_uncalibrated"],
        "change": wide["model"] - wide["model_uncalibrated"],
    }
    table = pd.concat(parts, names=["model"]).unstack("metric")
    table = table.reindex(columns=list(FOLD_METRICS)).reorder_levels(["fold", "model"])
    return table.sort_index(level="fold", sort_remaining=False).reset_index()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=400)
    parser.add_argument("--years", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--repeat", type=int, default=1)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(run_once(args.customers, args.years, args.seed)))
        return
    print(f"payrisk train: {args.customers} customers x {args.years:g} years, seed {args.seed}")
    print_table([_child(args) for _ in range(args.repeat)])


if __name__ == "__main__":
    main()
