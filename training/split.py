"""Out-of-time split by as-of date, with labels censored so that no split sees its future.

Periods of as-of dates, latest first, each ending ``label_maturity_days`` before the
cutoff its labels are censored at (so most of its outcomes had time to mature)::

    test        as_of in [test_start, data_cutoff - maturity]      labels at data_cutoff
    validation  as_of in [val_start, test_start - 1 - maturity]    labels at test_start - 1
    train       as_of in [first date, val_start - 1 - maturity]    labels at val_start - 1

The censoring is the guard against leakage: a training label never uses a fact dated on
or after the validation start, a validation label none on or after the test start.
Rows in the gaps belong to no split. The backtest repeats the same plan at earlier
data cutoffs; features need no recomputation because they are point in time.

Each split also gets ``bucket_floor``: the bucket where it is known, else the lowest
bucket the invoice can still end in at the label cutoff (0 when not yet due). The
calibrator uses it to learn from right-censored validation rows (``models.calibration``).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ledger.errors import PayriskError
from models.buckets import LateBuckets
from training.labels import LABEL_COLUMNS, censored_labels

SPLIT_NAMES = ("train", "validation", "test")
_DAYS_PER_MONTH = 30.4375
_ONE_DAY = pd.Timedelta(days=1)


class NotEnoughHistory(PayriskError):
    """The ledger is too short, or a split too small, to train and test out of time."""


class SingleClassSplit(PayriskError):
    """A split's labeled rows are all one class (e.g. every invoice paid on time)."""


class CutoffOutsideData(PayriskError):
    """A requested cutoff lies outside the ledger's date range."""


@dataclass(frozen=True)
class SplitConfig:
    """Lengths of the periods and the minimum sizes; ``from`` Settings by the pipeline."""

    test_months: int = 3
    validation_months: int = 3
    label_maturity_days: int = 60
    min_train_months: int = 3
    min_split_rows: int = 50

    @property
    def months_needed(self) -> float:
        """Months of as-of dates needed from the first invoice to the cutoff."""
        gaps_months = 3 * self.label_maturity_days / _DAYS_PER_MONTH
        return self.min_train_months + self.validation_months + self.test_months + gaps_months


@dataclass(frozen=True)
class SplitPlan:
    """Inclusive as-of ranges and label cutoffs of the three splits."""

    data_start: pd.Timestamp
    train_end: pd.Timestamp
    validation_start: pd.Timestamp
    validation_end: pd.Timestamp
    test_start: pd.Timestamp
    test_end: pd.Timestamp
    data_cutoff: pd.Timestamp

    def bounds(self, split: str) -> tuple[pd.Timestamp, pd.Timestamp]:
        """First and last as-of date (inclusive) of ``split``."""
        return {
            "train": (self.data_start, self.train_end),
            "validation": (self.validation_start, self.validation_end),
            "test": (self.test_start, self.test_end),
        }[split]

    def label_cutoff(self, split: str) -> pd.Timestamp:
        """The last day whose facts the labels of ``split`` may use."""
        return {
            "train": self.validation_start - _ONE_DAY,
            "validation": self.test_start - _ONE_DAY,
            "test": self.data_cutoff,
        }[split]


def _months_between(start: pd.Timestamp, end: pd.Timestamp) -> float:
    return (end - start) / _ONE_DAY / _DAYS_PER_MONTH


def check_cutoff(cutoff: pd.Timestamp, first_date: pd.Timestamp, last_date: pd.Timestamp) -> None:
    """Raise ``CutoffOutsideData`` unless first_date <= cutoff <= last_date."""
    if not first_date <= cutoff <= last_date:
        raise CutoffOutsideData(
            f"cutoff {cutoff.date()} is outside the ledger's data, which runs from "
            f"{first_date.date()} to {last_date.date()}; choose a date in that range"
        )


def plan_split(
    data_start: pd.Timestamp, data_cutoff: pd.Timestamp, config: SplitConfig
) -> SplitPlan:
    """The split for data from ``data_start`` (first issue date) to ``data_cutoff``.

    Raises ``NotEnoughHistory`` when fewer than ``config.min_train_months`` of training
    as-of dates remain once the test, validation and maturity gaps are taken.
    """
    data_start, data_cutoff = pd.Timestamp(data_start), pd.Timestamp(data_cutoff)
    maturity = pd.Timedelta(days=config.label_maturity_days)
    test_end = data_cutoff - maturity
    test_start = test_end + _ONE_DAY - pd.DateOffset(months=config.test_months)
    validation_end = test_start - _ONE_DAY - maturity
    validation_start = validation_end + _ONE_DAY - pd.DateOffset(months=config.validation_months)
    train_end = validation_start - _ONE_DAY - maturity
    train_months = _months_between(data_start, train_end + _ONE_DAY)
    if train_months < config.min_train_months:
        raise NotEnoughHistory(
            f"the ledger covers {_months_between(data_start, data_cutoff):.1f} months "
            f"({data_start.date()} to {data_cutoff.date()}), which leaves "
            f"{max(train_months, 0):.1f} months for training; an out-of-time split needs "
            f"about {config.months_needed:.1f} months: {config.min_train_months} to train, "
            f"{config.validation_months} to validate, {config.test_months} to test and "
            f"3 gaps of {config.label_maturity_days} days for outcomes to mature"
        )
    return SplitPlan(
        data_start, train_end, validation_start, validation_end, test_start, test_end, data_cutoff
    )


def backtest_cutoffs(
    data_start: pd.Timestamp,
    data_cutoff: pd.Timestamp,
    config: SplitConfig,
    *,
    folds: int = 3,
    step_months: int = 3,
) -> list[pd.Timestamp]:
    """Data cutoffs for the backtest, latest (``data_cutoff``) first, ``step_months`` apart.

    Cutoffs too early to leave enough training history are left out; at least the
    latest one must fit (else ``NotEnoughHistory``).
    """
    cutoffs = [
        pd.Timestamp(data_cutoff) - pd.DateOffset(months=step_months * fold)
        for fold in range(folds)
    ]
    plan_split(data_start, cutoffs[0], config)
    fitting = []
    for cutoff in cutoffs:
        try:
            plan_split(data_start, cutoff, config)
        except NotEnoughHistory:
            break
        fitting.append(cutoff)
    return fitting


def bucket_floor(
    due_dates: pd.Series, settled: pd.Series, label_cutoff: pd.Timestamp, buckets: LateBuckets
) -> pd.Series:
    """The bucket if settled by ``label_cutoff``, else the lowest one still possible.

    Same rule as ``training.labels``: an invoice open at the end of the cutoff day is paid
    at cutoff + 1 or later. Values are int64 and never missing.
    """
    settled_by_cutoff = (settled <= label_cutoff).to_numpy(dtype=bool, na_value=False)
    paid_or_earliest = settled.where(settled_by_cutoff, label_cutoff + _ONE_DAY)
    days_late = ((paid_or_earliest - due_dates) / _ONE_DAY).to_numpy(dtype="float64")
    floor = buckets.bucket_of(days_late)
    return pd.Series(np.asarray(floor, dtype="int64"), index=due_dates.index, name="bucket_floor")


def censored_rows(
    rows: pd.DataFrame, label_cutoff: pd.Timestamp, buckets: LateBuckets
) -> pd.DataFrame:
    """``rows`` with their label columns (and ``bucket_floor``) as of ``label_cutoff``."""
    labels = censored_labels(
        rows["due_date"], rows["settled_date"], label_cutoff=label_cutoff, buckets=buckets
    )
    floor = bucket_floor(rows["due_date"], rows["settled_date"], label_cutoff, buckets)
    stale = [c for c in (*LABEL_COLUMNS, "bucket_floor") if c in rows.columns]
    return rows.drop(columns=stale).join(labels).join(floor)


def check_split(name: str, rows: pd.DataFrame, plan: SplitPlan, config: SplitConfig) -> None:
    """Enough labeled rows, and both classes of ``late``, in one split."""
    first, last = plan.bounds(name)
    where = f"the {name} split (as-of {first.date()} to {last.date()})"
    labeled = rows.loc[rows["late_known"], "late"].astype("int64")
    needed_column = "bucket_known" if name == "train" else "late_known"
    labeled_count = int(rows[needed_column].sum())
    if labeled_count < config.min_split_rows:
        raise NotEnoughHistory(
            f"{where} has {labeled_count} labeled rows out of {len(rows)}; at least "
            f"{config.min_split_rows} are needed (a longer ledger, or smaller "
            f"PAYRISK_MIN_SPLIT_ROWS / PAYRISK_LABEL_MATURITY_DAYS)"
        )
    if labeled.nunique() < 2:
        only = "late" if labeled.iloc[0] == 1 else "on time"
        raise SingleClassSplit(
            f"{where} has {len(labeled)} labeled rows and every one is {only}; a model "
            f"cannot learn or be scored on a single class: check the paid and due dates"
        )


def split_frame(
    frame: pd.DataFrame, plan: SplitPlan, config: SplitConfig, buckets: LateBuckets
) -> dict[str, pd.DataFrame]:
    """The rows of each split with labels censored at its label cutoff (new frames).

    ``frame`` needs ``as_of``, ``due_date`` and ``settled_date`` (NaT when never
    settled). Raises ``NotEnoughHistory`` or ``SingleClassSplit`` for an unusable split.
    """
    splits = {}
    for name in SPLIT_NAMES:
        first, last = plan.bounds(name)
        rows = frame.loc[frame["as_of"].between(first, last)]
        splits[name] = censored_rows(rows, plan.label_cutoff(name), buckets)
        check_split(name, splits[name], plan, config)
    return splits


def split_summary(splits: dict[str, pd.DataFrame], plan: SplitPlan) -> pd.DataFrame:
    """One line per split: as-of range, label cutoff, rows and labeled rows, late share."""
    lines = []
    for name, rows in splits.items():
        first, last = plan.bounds(name)
        late = rows.loc[rows["late_known"], "late"].astype("float64")
        lines.append(
            {
                "split": name,
                "as_of_from": first,
                "as_of_to": last,
                "label_cutoff": plan.label_cutoff(name),
                "rows": len(rows),
                "invoices": rows["invoice_id"].nunique(),
                "rows_bucket_known": int(rows["bucket_known"].sum()),
                "rows_late_known": int(rows["late_known"].sum()),
                "rows_over_30_known": int(rows["over_30_known"].sum()),
                "late_share": float(late.mean()) if len(late) else float("nan"),
            }
        )
    return pd.DataFrame(lines)
