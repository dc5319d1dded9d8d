"""The training frame: ledger -> snapshot rows -> point-in-time features -> labels.

One row per (open invoice, as-of date) snapshot (``training.snapshots``), with its
features (``features.build.build_features``), the dates its labels are made from
(``due_date``, ``settled_date``: the true settlement date in the ledger, NaT if never),
the labels censored at the data cutoff (``training.labels``; the split re-censors each
split at its own cutoff) and, for a generated ledger, the oracle's true probabilities.
The oracle columns are never features: they sit beside the features for evaluation.
"""

from __future__ import annotations

from datetime import date
from typing import Protocol

import pandas as pd

from features.build import build_features
from features.registry import FEATURE_NAMES
from ledger.frames import Ledger
from ledger.settlement import settled_dates
from ledger.synthetic.oracle import LAW_COLUMNS, oracle_as_of
from models.buckets import LateBuckets
from training.labels import censored_labels
from training.snapshots import snapshot_rows
from training.split import NotEnoughHistory, check_cutoff

ROW_KEY_COLUMNS = ("invoice_id", "customer_id", "as_of", "kind")
DATE_COLUMNS = ("due_date", "settled_date")
ORACLE_COLUMNS = ("p_late_true", "p_over_30_true")


class TrainingSettings(Protocol):
    """The settings the training pipeline reads (``payrisk.settings.Settings`` has them)."""

    late_bucket_edges_days: list[int]
    grace_days: int
    snapshot_every_days: int
    random_seed: int
    training_cutoff: date | None
    test_months: int
    validation_months: int
    label_maturity_days: int
    min_train_months: int
    min_split_rows: int
    backtest_folds: int
    backtest_step_months: int
    cold_start_min_paid: int
    small_sample_rows: int
    bootstrap_rounds: int
    model_n_estimators: int
    model_learning_rate: float
    model_num_leaves: int
    model_min_child_samples: int
    model_early_stopping_rounds: int
    model_calibration: str
    model_calibration_shift_late: bool
    model_n_jobs: int


def buckets_from(settings: TrainingSettings) -> LateBuckets:
    """The days-late buckets the settings describe."""
    return LateBuckets(tuple(settings.late_bucket_edges_days), settings.grace_days)


def ledger_date_range(ledger: Ledger) -> tuple[pd.Timestamp, pd.Timestamp]:
    """First issue date, and the last date of any fact in the ledger (its data end)."""
    invoices = ledger.invoices
    if invoices.empty:
        raise NotEnoughHistory("the ledger has no invoices: there is nothing to train on")
    last_dates = [
        invoices["issue_date"].max(),
        invoices["paid_date"].max(),
        ledger.payments["payment_date"].max(),
        ledger.activities["date"].max(),
    ]
    last = max(value for value in last_dates if pd.notna(value))
    return pd.Timestamp(invoices["issue_date"].min()), pd.Timestamp(last)


def data_cutoff_of(ledger: Ledger, settings: TrainingSettings) -> pd.Timestamp:
    """The configured ``training_cutoff`` (checked against the data), else the data's end."""
    first, last = ledger_date_range(ledger)
    if settings.training_cutoff is None:
        return last
    cutoff = pd.Timestamp(settings.training_cutoff)
    check_cutoff(cutoff, first, last)
    return cutoff


def _features_for(
    ledger: Ledger, rows: pd.DataFrame, disputes_from_activities: bool | None = None
) -> pd.DataFrame:
    """Feature columns for ``rows``, checked to come back in the same order."""
    features = build_features(
        ledger, rows[["invoice_id", "as_of"]], disputes_from_activities=disputes_from_activities
    )
    same_rows = (
        len(features) == len(rows)
        and (features["invoice_id"].to_numpy() == rows["invoice_id"].to_numpy()).all()
    )
    if not same_rows:
        raise RuntimeError("build_features did not return one row per snapshot, in order")
    return features[list(FEATURE_NAMES)].reset_index(drop=True)


def _join_oracle(frame: pd.DataFrame, oracle: pd.DataFrame, invoices: pd.DataFrame) -> pd.DataFrame:
    """``frame`` with the oracle's true probabilities per row (NaN where it has none).

    A generator oracle carrying its lateness law is conditioned on what is known at each
    row's as-of date (still open, dispute state: ``oracle_as_of``), the fair comparison
    for a model that sees days overdue; a bare oracle gives its issue-time values.
    """
    if set(LAW_COLUMNS) <= set(oracle.columns):
        matched = oracle_as_of(oracle, invoices, frame[["invoice_id", "as_of"]])
        matched = matched[list(ORACLE_COLUMNS)].reset_index(drop=True)
    else:
        by_invoice = oracle.drop_duplicates("invoice_id").set_index("invoice_id")
        matched = by_invoice[list(ORACLE_COLUMNS)].reindex(frame["invoice_id"].to_numpy())
        matched = matched.reset_index(drop=True)
    return pd.concat([frame, matched.astype("float64")], axis=1)


def build_training_frame(
    ledger: Ledger,
    settings: TrainingSettings,
    *,
    oracle: pd.DataFrame | None = None,
    cutoff: pd.Timestamp | None = None,
    disputes_from_activities: bool | None = None,
) -> pd.DataFrame:
    """Snapshot rows with features, due/settled dates, labels at the cutoff, and the oracle.

    ``cutoff`` defaults to ``data_cutoff_of(ledger, settings)``; rows have as_of <= it and
    labels are censored at it. Columns: ``ROW_KEY_COLUMNS``, ``FEATURE_NAMES``,
    ``DATE_COLUMNS``, ``training.labels.LABEL_COLUMNS`` and, with an oracle,
    ``ORACLE_COLUMNS``. ``disputes_from_activities``: see ``build_features``.
    """
    cutoff = data_cutoff_of(ledger, settings) if cutoff is None else pd.Timestamp(cutoff)
    buckets = buckets_from(settings)
    invoices = ledger.invoices
    rows = snapshot_rows(
        invoices,
        cutoff=cutoff,
        every_days=settings.snapshot_every_days,
        payments=ledger.payments,
        buckets=buckets,
    )
    dates = pd.DataFrame(
        {"due_date": invoices["due_date"], "settled_date": settled_dates(invoices, ledger.payments)}
    ).set_index(invoices["invoice_id"].to_numpy())
    row_dates = dates.reindex(rows["invoice_id"].to_numpy()).reset_index(drop=True)
    labels = censored_labels(
        row_dates["due_date"], row_dates["settled_date"], label_cutoff=cutoff, buckets=buckets
    )
    features = _features_for(ledger, rows, disputes_from_activities)
    frame = pd.concat([rows, features, row_dates, labels], axis=1)
    return frame if oracle is None else _join_oracle(frame, oracle, invoices)
