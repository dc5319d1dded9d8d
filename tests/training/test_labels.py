"""Labels: days-late buckets, and right-censoring at the cutoff with a mask per target."""

from __future__ import annotations

import pandas as pd
import pytest

from models.buckets import LateBuckets
from training.labels import censored_labels, label_rows

CUTOFF = pd.Timestamp("2024-06-30")


def _labels(due: list[str], settled: list[str | None], grace_days: int = 0) -> pd.DataFrame:
    return censored_labels(
        pd.Series(pd.to_datetime(due)),
        pd.Series(pd.to_datetime(settled)),
        label_cutoff=CUTOFF,
        buckets=LateBuckets((0, 30, 60, 90), grace_days),
    )


def _table(labels: pd.DataFrame) -> list[tuple[object, ...]]:
    """(bucket, late, over_30) with None for unknown, per row."""

    def value(column: str, row: int) -> object:
        return None if pd.isna(labels[column].iloc[row]) else int(labels[column].iloc[row])

    return [tuple(value(c, i) for c in ("bucket", "late", "over_30")) for i in range(len(labels))]


def test_settled_invoices_get_every_target() -> None:
    labels = _labels(
        due=["2024-03-01", "2024-03-01", "2024-03-01", "2024-03-01", "2024-01-01"],
        settled=["2024-03-01", "2024-02-20", "2024-03-02", "2024-04-01", "2024-04-01"],
    )
    # on the due date = on time; early = on time; 1 day late; 31 days late; 91 days late
    assert _table(labels) == [(0, 0, 0), (0, 0, 0), (1, 1, 0), (2, 1, 1), (4, 1, 1)]
    assert labels["days_late"].tolist() == [0.0, -10.0, 1.0, 31.0, 91.0]
    assert labels[["bucket_known", "late_known", "over_30_known"]].all().all()


def test_open_at_cutoff_is_labeled_only_as_far_as_already_determined() -> None:
    labels = _labels(
        due=["2024-05-30", "2024-06-25", "2024-07-15", "2024-03-31", "2024-06-30"],
        settled=[None, None, None, None, None],
    )
    # 31 days overdue at the end of the cutoff day -> paid 32+ days late: > 30 known,
    # exact bucket not; 5 days overdue -> late known only; not yet due -> nothing;
    # due 2024-03-31 -> 91 days overdue -> last bucket known; due on the cutoff and
    # unpaid at its end -> late.
    assert _table(labels) == [
        (None, 1, 1),
        (None, 1, None),
        (None, None, None),
        (4, 1, 1),
        (None, 1, None),
    ]
    assert labels["late_known"].tolist() == [True, True, False, True, True]
    assert labels["over_30_known"].tolist() == [True, False, False, True, False]
    assert labels["bucket_known"].tolist() == [False, False, False, True, False]
    assert labels["days_late"].isna().all()


def test_paid_after_the_cutoff_counts_as_open_at_the_cutoff() -> None:
    labels = _labels(due=["2024-07-15", "2024-06-20"], settled=["2024-07-10", "2024-07-31"])
    # the first would be on time, the second 41 days late: neither may be seen at the cutoff
    assert _table(labels) == [(None, None, None), (None, 1, None)]
    assert labels["days_late"].isna().all()


def test_grace_days_move_only_the_on_time_threshold() -> None:
    labels = _labels(
        due=["2024-03-01", "2024-03-01", "2024-03-01", "2024-06-28", "2024-06-27"],
        settled=["2024-03-04", "2024-03-05", "2024-04-01", None, None],
        grace_days=3,
    )
    # 3 days late is within grace; 4 is late; 31 is > 30. Open at the end of the cutoff
    # day and due 2 days before: paid 3+ days late, maybe within the grace -> unknown;
    # due 3 days before: 4+ days late -> late.
    assert _table(labels) == [(0, 0, 0), (1, 1, 0), (2, 1, 1), (None, None, None), (None, 1, None)]


def test_label_rows_joins_by_invoice_and_keeps_the_rows() -> None:
    invoices = pd.DataFrame(
        {
            "invoice_id": pd.array(["a", "b"], dtype="string"),
            "due_date": pd.to_datetime(["2024-03-01", "2024-06-25"]),
            "paid_date": pd.to_datetime(["2024-03-10", None]),
            "amount": [10.0, 20.0],
        }
    )
    rows = pd.DataFrame(
        {"invoice_id": ["b", "a", "b"], "as_of": pd.to_datetime(["2024-06-01"] * 3)},
        index=[7, 8, 9],
    )
    labeled = label_rows(rows, invoices, cutoff=CUTOFF)
    assert labeled.index.tolist() == [7, 8, 9]
    assert labeled["bucket"].tolist()[1] == 1
    assert labeled["late"].tolist() == [1, 1, 1]
    assert labeled["bucket_known"].tolist() == [False, True, False]
    with pytest.raises(KeyError, match="zz"):
        label_rows(pd.DataFrame({"invoice_id": ["zz"]}), invoices, cutoff=CUTOFF)


def test_a_bucket_matures_the_last_edge_after_the_due_date_whatever_the_outcome() -> None:
    labels = _labels(
        due=["2024-04-01", "2024-04-01", "2024-04-02", "2024-06-01", "2024-04-03"],
        settled=["2024-04-01", None, "2024-04-02", "2024-06-01", "2024-08-01"],
    )
    # due 90 days before the cutoff: matured, paid or not (unpaid = last bucket); due 89
    # days before, or 29: not matured, though paid on time gives a known bucket, paid
    # after the cutoff (open, 88 days overdue) none
    assert labels["bucket_matured"].tolist() == [True, True, False, False, False]
    assert labels["bucket_known"].tolist() == [True, True, True, True, False]
    assert _table(labels)[1] == (4, 1, 1)
