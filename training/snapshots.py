"""Training rows: (open invoice, as-of date) snapshots, built without a loop per invoice.

A row exists at date t only while its invoice is open at the end of day t (issued <= t,
not settled by t -- DESIGN.md's point-in-time rule: an invoice counts as paid only if
paid <= t). Rows sit at the invoice's issue date (kind ``issue``) and on a calendar grid
every ``every_days`` days anchored at ``GRID_EPOCH`` (kind ``grid``), so every invoice
shares the grid dates and a grid date is a real "worklist day": all invoices open that
day. An invoice paid on its issue date has no row: at the end of that day there is
nothing left to predict. Snapshots stop once the outcome is known at t (the invoice is
already so overdue that only the last bucket is possible), and never go past the cutoff.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from ledger.settlement import settled_dates
from models.buckets import LateBuckets

# A Monday, so that a 7-day grid lands on Mondays; any fixed date works.
GRID_EPOCH = pd.Timestamp("2000-01-03")
SNAPSHOT_COLUMNS = ("invoice_id", "customer_id", "as_of", "kind")
_DAY = np.timedelta64(1, "D")
# Bounds of the days-late search for the first value that falls in the last bucket.
_DAYS_LATE_SEARCH = np.arange(-3_650, 36_500)


def days_late_when_determined(buckets: LateBuckets) -> int:
    """The smallest days late that can only fall in the last bucket (e.g. 91 for > 90)."""
    classes = np.asarray(buckets.bucket_of(_DAYS_LATE_SEARCH))
    in_last = np.flatnonzero(classes == buckets.n_classes - 1)
    if in_last.size == 0:
        raise ValueError(f"{buckets!r}: no days-late value maps to the last bucket")
    return int(_DAYS_LATE_SEARCH[in_last[0]])


def last_undetermined_dates(due_dates: pd.Series, buckets: LateBuckets) -> pd.Series:
    """Per invoice, the last date at which, still open, its bucket is not yet determined.

    Open at the end of day t means paid at t + 1 or later, i.e. at least
    ``t + 1 - due`` days late; the bucket is determined once that minimum lands in the
    last bucket.
    """
    determined_days = days_late_when_determined(buckets)
    return due_dates + pd.Timedelta(days=determined_days - 2)


def _day_numbers(dates: pd.Series) -> np.ndarray:
    """Whole days since ``GRID_EPOCH`` (int64; NaT must be filled by the caller)."""
    return ((dates - GRID_EPOCH) // pd.Timedelta(days=1)).to_numpy(dtype=np.int64)


def _grid_rows(invoices: pd.DataFrame, last_open_dates: pd.Series, every_days: int) -> pd.DataFrame:
    """Rows on the grid strictly after the issue date, up to ``last_open_dates``."""
    first_index = _day_numbers(invoices["issue_date"]) // every_days + 1
    last_index = _day_numbers(last_open_dates) // every_days
    counts = np.clip(last_index - first_index + 1, 0, None)
    positions = np.repeat(np.arange(len(invoices)), counts)
    # Offset of each repeated row within its invoice's run: 0, 1, 2, ...
    run_starts = np.repeat(np.cumsum(counts) - counts, counts)
    grid_index = first_index[positions] + (np.arange(positions.size) - run_starts)
    as_of = GRID_EPOCH + pd.to_timedelta(grid_index * every_days, unit="D")
    return pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].to_numpy()[positions],
            "customer_id": invoices["customer_id"].to_numpy()[positions],
            "as_of": np.asarray(as_of, dtype="datetime64[ns]"),
            "kind": "grid",
        }
    )


def snapshot_rows(
    invoices: pd.DataFrame,
    *,
    cutoff: pd.Timestamp,
    every_days: int,
    payments: pd.DataFrame | None = None,
    buckets: LateBuckets | None = None,
) -> pd.DataFrame:
    """Snapshot rows ``invoice_id, customer_id, as_of, kind`` sorted by as_of, invoice_id.

    ``cutoff`` is the last as-of date (the data cutoff); an invoice settled after it is
    open at it. ``payments`` settle invoices without a paid_date (DESIGN.md); ``buckets``
    (default ``LateBuckets()``) say when an outcome is determined.
    """
    if every_days < 1:
        raise ValueError(f"every_days must be >= 1, got {every_days}")
    buckets = buckets if buckets is not None else LateBuckets()
    cutoff = pd.Timestamp(cutoff).normalize()
    settled = invoices["paid_date"] if payments is None else settled_dates(invoices, payments)
    # The last day the invoice is open and still worth a row.
    last_open = pd.concat(
        [
            settled.fillna(pd.Timestamp.max.normalize()) - pd.Timedelta(days=1),
            last_undetermined_dates(invoices["due_date"], buckets),
        ],
        axis=1,
    ).min(axis=1)
    last_open = last_open.clip(upper=cutoff)
    open_at_issue = last_open >= invoices["issue_date"]
    issued = invoices.loc[open_at_issue]
    issue_rows = pd.DataFrame(
        {
            "invoice_id": issued["invoice_id"].to_numpy(),
            "customer_id": issued["customer_id"].to_numpy(),
            "as_of": issued["issue_date"].to_numpy(dtype="datetime64[ns]"),
            "kind": "issue",
        }
    )
    grid = _grid_rows(issued, last_open.loc[open_at_issue], every_days)
    rows = pd.concat([issue_rows, grid], ignore_index=True)
    rows = rows.sort_values(["as_of", "invoice_id"], kind="stable", ignore_index=True)
    return rows.astype({"invoice_id": "string", "customer_id": "string", "kind": "string"})[
        list(SNAPSHOT_COLUMNS)
    ]
