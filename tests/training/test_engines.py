"""The dask engine against the pandas engine on the same small ledger, on a 2-worker cluster.

The cluster runs its workers as threads (fast to start); the partition functions are the
same either way. 60 customers in 3 generator chunks of 20 -> a 3-partition dataset.
"""

from __future__ import annotations

import socket
import time
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from distributed import Client

from ledger.contract import TABLES
from ledger.synthetic import GeneratedLedger, GeneratorConfig, generate_chunks, generate_ledger
from ledger.synthetic.partitioned import write_partitioned
from payrisk.settings import Settings
from training.dataset import build_training_frame
from training.engines.cluster import SchedulerUnreachable, dask_client
from training.engines.dask import build_training_frame_dask
from training.engines.pandas import read_dataset
from training.engines.parquet_dataset import DatasetRejected

CONFIG = GeneratorConfig(customers=60, years=2, seed=5, chunk_customers=20, end=date(2026, 6, 30))
SETTINGS = Settings(dask_workers=2, dask_processes=False, snapshot_every_days=28)


@pytest.fixture(scope="module")
def generated() -> GeneratedLedger:
    return generate_ledger(CONFIG)


def _copy_with(dataset: Path, target: Path, table: str, part: str, frame: pd.DataFrame) -> Path:
    """A copy of ``dataset`` whose ``table/part`` file is replaced by ``frame``."""
    for name in TABLES:
        (target / name).mkdir(parents=True)
        for path in (dataset / name).glob("*.parquet"):
            (target / name / path.name).write_bytes(path.read_bytes())
    frame.to_parquet(target / table / part, index=False)
    return target


def test_partitioned_generate_keeps_whole_customers_per_partition(dataset: Path) -> None:
    parts = {name: sorted(p.name for p in (dataset / name).glob("*.parquet")) for name in TABLES}
    assert all(
        names == ["part-00000.parquet", "part-00001.parquet", "part-00002.parquet"]
        for names in parts.values()
    )
    customers = pd.read_parquet(dataset / "customers" / "part-00001.parquet")
    assert len(customers) == 20
    for name in ("invoices", "payments", "activities"):
        frame = pd.read_parquet(dataset / name / "part-00001.parquet")
        assert set(frame["customer_id"]) <= set(customers["customer_id"])


def test_partitioned_ids_are_unique_across_partitions_and_repeat_for_a_seed(
    dataset: Path, tmp_path: Path
) -> None:
    again = tmp_path / "again"
    write_partitioned(generate_chunks(CONFIG), again)
    for name, table in TABLES.items():
        files = sorted((dataset / name).glob("*.parquet"))
        parts = [pd.read_parquet(path)[table.key] for path in files]
        assert len(parts) == 3 and all(len(part) for part in parts), name
        ids = pd.concat(parts, ignore_index=True)
        assert ids.is_unique, f"{name}: {ids[ids.duplicated()].head(3).tolist()}"
        assert ids.tolist() == pd.read_parquet(again / name)[table.key].tolist(), name
    oracle = pd.read_parquet(dataset / "truth" / "oracle")["invoice_id"]
    invoices = pd.read_parquet(dataset / "invoices")["invoice_id"]
    assert oracle.tolist() == invoices.tolist()


def test_dask_training_frame_equals_pandas_exactly(
    dataset: Path, generated: GeneratedLedger, client: Client
) -> None:
    frame, _facts, cutoff = build_training_frame_dask(str(dataset), SETTINGS, client)
    expected = build_training_frame(generated.ledger, SETTINGS, oracle=generated.oracle)
    assert cutoff == pd.Timestamp("2026-06-30")
    assert len(frame) > 1000
    pd.testing.assert_frame_equal(frame, expected)


def test_unaligned_dataset_is_shuffled_by_customer_to_the_same_frame(
    dataset: Path, generated: GeneratedLedger, client: Client, tmp_path: Path
) -> None:
    # Rows of every table dealt at random over 2 files: customers cut across partitions.
    for name in TABLES:
        (tmp_path / name).mkdir()
        shuffled = generated.ledger.table(name).sample(frac=1.0, random_state=1)
        for index, rows in enumerate(np.array_split(np.arange(len(shuffled)), 2)):
            shuffled.iloc[rows].to_parquet(tmp_path / name / f"p{index}.parquet", index=False)
    frame, facts, _ = build_training_frame_dask(str(tmp_path), SETTINGS, client)
    _, aligned_facts, _ = build_training_frame_dask(str(dataset), SETTINGS, client)
    expected = build_training_frame(generated.ledger, SETTINGS)
    pd.testing.assert_frame_equal(frame, expected)
    assert facts.fingerprint == aligned_facts.fingerprint


def test_pandas_engine_reads_the_same_dataset(dataset: Path, generated: GeneratedLedger) -> None:
    ledger, oracle = read_dataset(str(dataset))
    assert oracle is not None and len(oracle) == len(generated.oracle)
    for name in TABLES:
        pd.testing.assert_frame_equal(
            ledger.table(name).reset_index(drop=True), generated.ledger.table(name)
        )


def test_wrong_schema_gets_the_import_validation_report(
    dataset: Path, tmp_path: Path, client: Client
) -> None:
    invoices = pd.read_parquet(dataset / "invoices" / "part-00001.parquet")
    amounts = invoices["amount"].map("{:.2f}".format).astype(object)
    amounts.iloc[3] = "n/a"
    target = _copy_with(
        dataset, tmp_path, "invoices", "part-00001.parquet", invoices.assign(amount=amounts)
    )
    with pytest.raises(DatasetRejected, match="column 'amount' is string") as raised:
        build_training_frame_dask(str(target), SETTINGS, client)
    report = raised.value.report
    assert report is not None
    rejected = [(r.table, r.file, r.line, r.column, r.value) for r in report.rejections]
    assert rejected == [("invoices", "part-00001.parquet", 5, "amount", "n/a")]


def test_bad_value_in_a_partition_is_rejected_with_its_report(
    dataset: Path, tmp_path: Path, client: Client
) -> None:
    invoices = pd.read_parquet(dataset / "invoices" / "part-00002.parquet")
    invoices.loc[0, "amount"] = -5.0
    target = _copy_with(dataset, tmp_path, "invoices", "part-00002.parquet", invoices)
    with pytest.raises(DatasetRejected) as raised:
        build_training_frame_dask(str(target), SETTINGS, client)
    report = raised.value.report
    assert report is not None
    # The invoice, then the payments and activities that refer to it (as the import does).
    invoice_rejections = [r for r in report.rejections if r.table == "invoices"]
    assert [(r.file, r.line, r.column, r.value) for r in invoice_rejections] == [
        ("invoices partition 2", 2, "amount", "-5")
    ]
    assert {r.column for r in report.rejections if r.table != "invoices"} == {"invoice_id"}


def test_unreachable_scheduler_fails_within_the_timeout() -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings = SETTINGS.model_copy(update={"dask_connect_timeout_seconds": 2.0})
    started = time.perf_counter()
    with (
        pytest.raises(SchedulerUnreachable, match=f"tcp://127.0.0.1:{port}: no answer within 2 s"),
        dask_client(settings, f"tcp://127.0.0.1:{port}"),
    ):
        pass
    assert time.perf_counter() - started < 10
