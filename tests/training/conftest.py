"""Generated ledgers and fast settings shared by the training tests.

The Dask engine modules share ``dataset`` (their ``CONFIG`` generated into a partitioned
Parquet folder) and ``client`` (a local cluster of their ``SETTINGS``), one per module.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from distributed import Client

from ledger.frames import Ledger
from ledger.synthetic import GeneratedLedger, GeneratorConfig, generate_chunks, generate_ledger
from ledger.synthetic.partitioned import write_partitioned
from payrisk.settings import Settings
from training.engines.cluster import dask_client

END = date(2026, 11, 30)


def fast_settings(**overrides: object) -> Settings:
    """Settings that train in seconds: few trees, a coarse grid, a short bootstrap."""
    values: dict[str, object] = {
        "snapshot_every_days": 28,
        "model_n_estimators": 60,
        "model_early_stopping_rounds": 15,
        "model_min_child_samples": 20,
        "model_learning_rate": 0.1,
        "bootstrap_rounds": 30,
        "model_n_jobs": 1,
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@pytest.fixture(scope="session")
def generated_120x2() -> GeneratedLedger:
    """120 customers over 2 years, with payments, activities and the oracle."""
    return generate_ledger(GeneratorConfig(customers=120, years=2, seed=11, end=END))


@pytest.fixture(scope="session")
def small_paid_ledger() -> Ledger:
    """Issue 3's small case: ~100 customers, 2 years, every invoice paid, invoices only."""
    generated = generate_ledger(GeneratorConfig(customers=100, years=2, seed=5, end=END))
    invoices = generated.ledger.invoices
    # The generator bills ~20 invoices per customer-year; keep 70% of them (a
    # customer billed less often) and only the paid ones, as in an invoices-only export.
    kept = invoices.sample(frac=0.7, random_state=5).sort_index()
    paid = kept.loc[kept["paid_date"].notna()]
    return Ledger.from_frames(customers=generated.ledger.customers, invoices=paid)


@pytest.fixture(scope="module")
def dataset(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The test module's ``CONFIG`` generated into a partitioned Parquet dataset."""
    folder = tmp_path_factory.mktemp("dataset")
    write_partitioned(generate_chunks(request.module.CONFIG), folder)
    return folder


@pytest.fixture(scope="module")
def client(request: pytest.FixtureRequest) -> Iterator[Client]:
    """A local Dask cluster of the test module's ``SETTINGS``."""
    with dask_client(request.module.SETTINGS) as connected:
        yield connected
