"""Benchmark the worklist and KPI requests on a ledger database: first request, then repeats.

Usage::

    payrisk generate --customers 400 --years 3 --seed 7 --end 2026-11-30 --to-db
    .venv/bin/python bench/bench_worklist.py --database-url sqlite:///.payrisk/payrisk.db

The database must hold a migrated ledger. If it has no stored scores yet, the bench
writes one refresh's worth for every invoice open at ``--as-of``: P(> 30 days late) from
a seeded random draw, not from a model (the worklist's cost does not depend on the
numbers). Then it starts the app in process (no model, no network), and times over HTTP
(FastAPI's test client): ``GET /v1/worklist`` (page 1 of 50), the same with a collector
filter, ``GET /v1/worklist?format=csv`` and ``GET /v1/kpis`` -- the first request of
each, then ``--repeat`` more (median, min-max). The machine may be shared: the load
average is printed beside the figures.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.append(str(ROOT))  # appended: a PYTHONPATH checkout of other code comes first

from fastapi.testclient import TestClient  # noqa: E402

from ledger.scores_store import count_scores, write_scores  # noqa: E402
from ledger.store import LedgerStore  # noqa: E402
from payrisk.settings import Settings  # noqa: E402
from serving.app import create_app  # noqa: E402
from serving.auth import create_key  # noqa: E402
from serving.scoring import open_invoice_rows  # noqa: E402

RATES = {"EUR": 1.08, "GBP": 1.27, "ILS": 0.27}


def ensure_scores(store: LedgerStore, as_of: pd.Timestamp, seed: int) -> int:
    """Write one refresh of random scores for the invoices open at ``as_of`` if none exist."""
    if count_scores(store):
        return 0
    ledger = store.load()
    open_ids = open_invoice_rows(ledger, as_of)["invoice_id"]
    invoices = ledger.invoices.set_index("invoice_id").loc[open_ids.to_numpy()]
    rng = np.random.default_rng(seed)
    p_over_30 = rng.beta(1.2, 4.0, len(invoices))
    reasons = {"method": "path", "en": [{"text": "3 of the last 4 invoices paid late"}]}
    rows = pd.DataFrame(
        {
            "model_name": "payment-risk",
            "model_version": "bench",
            "as_of": as_of,
            "invoice_id": invoices.index.to_numpy(),
            "customer_id": invoices["customer_id"].to_numpy(),
            "open_amount": invoices["amount"].to_numpy(dtype="float64"),
            "currency": invoices["currency"].to_numpy(dtype=object),
            "bucket_probabilities": [{"on_time": 1 - p} for p in p_over_30],
            "p_late": np.clip(p_over_30 * 1.5, 0, 1),
            "p_over_30": p_over_30,
            "expected_days_late": 20.0,
            "predicted_payment_date": as_of + pd.Timedelta(days=30),
            "reasons": [reasons] * len(invoices),
        }
    )
    return write_scores(store, rows)


def timed(call: Callable[[], object], repeat: int) -> tuple[float, list[float]]:
    """Seconds of the first call, and of each of ``repeat`` more."""
    start = time.perf_counter()
    call()
    first = time.perf_counter() - start
    more = []
    for _ in range(repeat):
        start = time.perf_counter()
        call()
        more.append(time.perf_counter() - start)
    return first, more


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--database-url", required=True)
    parser.add_argument("--as-of", type=date.fromisoformat, default=date(2026, 11, 30))
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    store = LedgerStore.from_url(args.database_url)
    written = ensure_scores(store, pd.Timestamp(args.as_of), args.seed)
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(
            data_dir=Path(folder),
            database_url=args.database_url,
            mlflow_tracking_uri=f"sqlite:///{folder}/none/mlflow.db",
            model_poll_seconds=0,
            fx_rates=RATES,
        )
        with TestClient(create_app(settings)) as client:
            key = create_key(client.app.state.store, f"bench-{time.time_ns()}", ["worklist"]).key  # type: ignore[attr-defined]
            headers = {"Authorization": f"Bearer {key}"}
            collector = str(store.load().customers["collector"].dropna().iloc[0])
            day = {"as_of": args.as_of.isoformat()}
            calls = {
                "GET /v1/worklist": {**day},
                "GET /v1/worklist?collector=": {**day, "collector": collector},
                "GET /v1/worklist?format=csv": {**day, "format": "csv"},
                "GET /v1/kpis": {**day},
            }
            print(f"ledger {store.display_url}; scores written now: {written}")
            print(f"{'request':32} {'first s':>9} {'repeat median s':>16} {'min-max s':>16}")
            for name, params in calls.items():
                path = name.split("?")[0].removeprefix("GET ")

                def call(path: str = path, params: dict[str, str] = params) -> object:
                    response = client.get(path, params=params, headers=headers)
                    assert response.status_code == 200, response.text[:300]
                    return response

                first, more = timed(call, args.repeat)
                spread = f"{min(more):.4f}-{max(more):.4f}"
                print(f"{name:32} {first:9.4f} {statistics.median(more):16.4f} {spread:>16}")
    print(f"load average: {' '.join(f'{value:.2f}' for value in os.getloadavg())}")


if __name__ == "__main__":
    main()
