"""The dask engine: the training frame built per partition of customers on a Dask cluster.

The ledger comes from a partitioned Parquet dataset (``parquet_dataset``). Partitions
must hold whole customers across all tables: a dataset written by ``payrisk generate
--partitioned`` already does, any other is shuffled on ``customer_id`` first. Then each
partition runs the very same ``training.dataset.build_training_frame`` (snapshots,
``features.build.build_features``, labels, oracle) via ``map_partitions``, with the
facts that need the whole ledger (data cutoff, fingerprint) decided once up front.

Training on that frame: ``training.engines.dask_training`` (``lightgbm.dask`` on the
training period, calibration and evaluation on the collected later periods).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from ledger.contract import TABLES
from ledger.errors import PayriskError
from ledger.frames import Ledger, empty_frame
from ledger.validation import validate_ledger
from training.dataset import TrainingSettings, build_training_frame
from training.engines.parquet_dataset import (
    DatasetRejected,
    LedgerDataset,
    check_schemas,
    open_dataset,
    table_frames,
)
from training.split import NotEnoughHistory, check_cutoff

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client


LEDGER_TABLES = tuple(TABLES)
_UINT64 = 2**64


class PartitionLayoutError(PayriskError):
    """A partition does not hold whole customers although the dataset claims it does."""


@dataclass(frozen=True)
class LedgerFacts:
    """Whole-ledger facts every partition must agree on, computed once."""

    first_date: pd.Timestamp
    last_date: pd.Timestamp
    fingerprint: str


def _row_hash_sum(frame: pd.DataFrame) -> pd.DataFrame:
    """Rows and the wrapping sum of their hashes: order- and partition-free when summed."""
    hashes = pd.util.hash_pandas_object(frame, index=False).to_numpy(dtype=np.uint64)
    # As text: a uint64 would turn into float64 when the partitions' results are concatenated.
    total = str(int(hashes.sum(dtype=np.uint64)))
    return pd.DataFrame({"rows": [len(frame)], "hash": pd.Series([total], dtype="string")})


def _fingerprint(parts: dict[str, pd.DataFrame]) -> str:
    """sha256 over every table's row count and summed row hashes (dask engine's own)."""
    digest = hashlib.sha256(b"dask-ledger-v1")
    for name in LEDGER_TABLES:
        rows = int(parts[name]["rows"].sum())
        total = sum(int(value) for value in parts[name]["hash"]) % _UINT64
        digest.update(f"{name}:{rows}:{total}".encode())
    return digest.hexdigest()


def ledger_facts(frames: dict[str, dd.DataFrame], client: Client) -> LedgerFacts:
    """First issue date, last fact date and a fingerprint, in one pass."""
    invoices = frames["invoices"]
    last_candidates = [
        invoices["issue_date"].max(),
        invoices["paid_date"].max(),
        frames["payments"]["payment_date"].max(),
        frames["activities"]["date"].max(),
    ]
    meta = pd.DataFrame({"rows": pd.Series(dtype="int64"), "hash": pd.Series(dtype="string")})
    hashes = [frames[name].map_partitions(_row_hash_sum, meta=meta) for name in LEDGER_TABLES]
    futures = client.compute([invoices["issue_date"].min(), *hashes, *last_candidates])
    first, *rest = client.gather(futures)
    hash_parts = dict(zip(LEDGER_TABLES, rest[: len(LEDGER_TABLES)], strict=True))
    lasts = rest[len(LEDGER_TABLES) :]
    if pd.isna(first):
        raise NotEnoughHistory("the ledger has no invoices: there is nothing to train on")
    return LedgerFacts(
        first_date=pd.Timestamp(first),
        last_date=pd.Timestamp(max(value for value in lasts if pd.notna(value))),
        fingerprint=_fingerprint(hash_parts),
    )


def _layout(*tables: pd.DataFrame) -> pd.DataFrame:
    """One row: this partition's customer count and whether its rows' customers are in it."""
    known = set(tables[0]["customer_id"].dropna())
    contained = all(frame["customer_id"].dropna().isin(known).all() for frame in tables[1:])
    return pd.DataFrame({"customers": [len(known)], "contained": [bool(contained)]})


def by_customer(
    frames: dict[str, dd.DataFrame], dataset: LedgerDataset, client: Client
) -> dict[str, dd.DataFrame]:
    """The frames with partition k of every table holding the same, whole customers.

    Kept as they are when the files are aligned and each partition is self-contained;
    else every table is hash-shuffled on ``customer_id`` into the same partitions.
    """
    import dask.dataframe as dd

    names = [*LEDGER_TABLES, *(["oracle"] if "oracle" in frames else [])]
    if dataset.aligned and all(frames[n].npartitions == dataset.npartitions for n in names):
        ids = [frames[n][["customer_id"]] for n in names]
        meta = pd.DataFrame(
            {"customers": pd.Series(dtype="int64"), "contained": pd.Series(dtype="bool")}
        )
        layout = dd.map_partitions(_layout, *ids, align_dataframes=False, meta=meta)
        unique_customers = frames["customers"]["customer_id"].nunique()
        parts, unique = client.gather(client.compute([layout, unique_customers]))
        if parts["contained"].all() and int(parts["customers"].sum()) == int(unique):
            return frames
    count = dataset.npartitions
    return {
        name: frames[name].shuffle("customer_id", npartitions=count, shuffle_method="tasks")
        for name in names
    }


def _partition_frame(
    *tables: pd.DataFrame,
    settings: TrainingSettings,
    cutoff: pd.Timestamp,
    validate: bool,
    partition_info: dict[str, Any] | None = None,
) -> pd.DataFrame:
    """``build_training_frame`` on one partition of whole customers (validated first)."""
    ledger = Ledger.from_frames(**dict(zip(LEDGER_TABLES, tables[:4], strict=True)))
    number = (partition_info or {}).get("number", "?")
    if validate:
        files = {name: f"{name} partition {number}" for name in LEDGER_TABLES}
        report = validate_ledger(ledger.tables(), files=files)
        if not report.ok:
            raise DatasetRejected(
                f"partition {number}: {len(report.rejections)} value(s) rejected", report
            )
    oracle = tables[4] if len(tables) > 4 else None
    return build_training_frame(ledger, settings, oracle=oracle, cutoff=cutoff)


def training_frame_graph(
    frames: dict[str, dd.DataFrame],
    settings: TrainingSettings,
    facts: LedgerFacts,
    cutoff: pd.Timestamp,
    *,
    validate: bool = True,
) -> dd.DataFrame:
    """The lazy training frame: ``_partition_frame`` mapped over the customer partitions."""
    import dask.dataframe as dd

    inputs = [frames[name] for name in LEDGER_TABLES]
    if "oracle" in frames:
        inputs.append(frames["oracle"])
    options = {"settings": settings, "cutoff": cutoff}
    empty = [empty_frame(TABLES[name]) for name in LEDGER_TABLES]
    if "oracle" in frames:
        empty.append(frames["oracle"]._meta)
    meta = _partition_frame(*empty, validate=False, **options)
    return dd.map_partitions(
        _partition_frame, *inputs, meta=meta, align_dataframes=False, validate=validate, **options
    )


def data_cutoff(facts: LedgerFacts, settings: TrainingSettings) -> pd.Timestamp:
    """The configured training cutoff (checked against the data), else the data's end."""
    if settings.training_cutoff is None:
        return facts.last_date
    cutoff = pd.Timestamp(settings.training_cutoff)
    check_cutoff(cutoff, facts.first_date, facts.last_date)
    return cutoff


def collect_sorted(graph: dd.DataFrame, client: Client) -> pd.DataFrame:
    """Compute the frame and put its rows in the pandas engine's order (as_of, invoice_id)."""
    frame: pd.DataFrame = client.compute(graph).result()
    return frame.sort_values(["as_of", "invoice_id"], kind="stable", ignore_index=True)


def load_dataset(url: str, client: Client) -> tuple[dict[str, dd.DataFrame], LedgerFacts]:
    """Open and schema-check the dataset; frames partitioned by customer, whole-ledger facts."""
    dataset = open_dataset(url)
    check_schemas(dataset)
    frames = table_frames(dataset)
    # Facts on the frames as read: order-free, and no shuffle needed for them.
    facts = ledger_facts(frames, client)
    return by_customer(frames, dataset, client), facts


def build_training_frame_dask(
    url: str, settings: TrainingSettings, client: Client
) -> tuple[pd.DataFrame, LedgerFacts, pd.Timestamp]:
    """The training frame of the dataset at ``url`` (rows as the pandas engine orders them)."""
    frames, facts = load_dataset(url, client)
    cutoff = data_cutoff(facts, settings)
    graph = training_frame_graph(frames, settings, facts, cutoff)
    return collect_sorted(graph, client), facts, cutoff
