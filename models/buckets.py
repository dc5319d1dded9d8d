"""Days-late buckets: the classes the model predicts, and what follows from them.

With the default edges ``(0, 30, 60, 90)`` and ``grace_days = 0`` the buckets are

======  ================  ==========================
class   label             days late (paid - due)
======  ================  ==========================
0       ``on_time``       <= 0 + grace
1       ``late_1_30``     (0 + grace, 30]
2       ``late_31_60``    (30, 60]
3       ``late_61_90``    (60, 90]
4       ``late_over_90``  > 90
======  ================  ==========================

Grace only moves the on-time threshold; labels are named after the edges so that the
column names (``p_late_1_30``...) stay the same whatever the grace.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass

import numpy as np
import pandas as pd

from ledger.errors import PayriskError


class BucketError(PayriskError):
    """Bad bucket edges, bad days-late values, or a probability array of the wrong shape."""


@dataclass(frozen=True)
class LateBuckets:
    """Ordinal days-late classes; ``edges_days`` are the upper edges, the last bucket is open."""

    edges_days: tuple[int, ...] = (0, 30, 60, 90)
    grace_days: int = 0

    def __post_init__(self) -> None:
        edges = tuple(int(edge) for edge in self.edges_days)
        object.__setattr__(self, "edges_days", edges)
        if not edges or any(high <= low for low, high in itertools.pairwise(edges)):
            raise BucketError(f"bucket edges must be strictly increasing, got {edges}")
        if edges[0] < 0:
            raise BucketError(f"the first bucket edge must be >= 0 days, got {edges[0]}")
        if self.grace_days < 0:
            raise BucketError(f"grace_days must be >= 0, got {self.grace_days}")
        if len(edges) > 1 and edges[0] + self.grace_days >= edges[1]:
            raise BucketError(
                f"grace_days={self.grace_days} swallows the first late bucket "
                f"({edges[0]}, {edges[1]}]: it must be < {edges[1] - edges[0]}"
            )

    @property
    def labels(self) -> tuple[str, ...]:
        """One name per class, e.g. ``("on_time", "late_1_30", ..., "late_over_90")``."""
        edges = self.edges_days
        middle = [f"late_{low + 1}_{high}" for low, high in itertools.pairwise(edges)]
        return ("on_time", *middle, f"late_over_{edges[-1]}")

    @property
    def n_classes(self) -> int:
        """Number of buckets (len(edges_days) + 1)."""
        return len(self.edges_days) + 1

    @property
    def thresholds_days(self) -> np.ndarray:
        """Upper edges actually applied: the first one shifted by the grace days."""
        thresholds = np.asarray(self.edges_days, dtype="float64")
        thresholds[0] += self.grace_days
        return thresholds

    def bucket_of(self, days_late: np.ndarray | pd.Series) -> np.ndarray:
        """The class (int64) of each days-late value (paid date - due date, in days).

        A bucket includes its upper edge: 30 days late is ``late_1_30``, 31 is
        ``late_31_60``. Missing values raise: censored rows must be dropped before.
        """
        values = np.asarray(pd.to_numeric(pd.Series(days_late), errors="coerce"), dtype="float64")
        missing = np.isnan(values)
        if missing.any():
            first = int(np.flatnonzero(missing)[0])
            raise BucketError(
                f"{int(missing.sum())} days-late values are missing or not numbers "
                f"(first at position {first}); drop unlabeled rows before bucketing"
            )
        return np.searchsorted(self.thresholds_days, values, side="left").astype("int64")

    def edge_index(self, days: int) -> int:
        """Position of ``days`` in ``edges_days``; P(days late > days) = P(class > index)."""
        if days not in self.edges_days:
            raise BucketError(f"{days} days is not a bucket edge; edges are {self.edges_days}")
        return self.edges_days.index(days)

    def check_proba(self, proba: np.ndarray) -> np.ndarray:
        """``proba`` as a float64 (n, n_classes) array, or a clear error."""
        array = np.asarray(proba, dtype="float64")
        if array.ndim != 2 or array.shape[1] != self.n_classes:
            raise BucketError(
                f"expected probabilities of shape (n, {self.n_classes}), got {array.shape}"
            )
        return array

    def p_late(self, proba: np.ndarray) -> np.ndarray:
        """P(late) = 1 - P(on_time), per row."""
        return 1.0 - self.check_proba(proba)[:, 0]

    def p_over(self, proba: np.ndarray, days: int = 30) -> np.ndarray:
        """P(days late > ``days``) per row; ``days`` must be one of ``edges_days``."""
        index = self.edge_index(days)
        return self.check_proba(proba)[:, index + 1 :].sum(axis=1)

    def default_representative_days(self) -> np.ndarray:
        """Days late standing for each bucket when no raw days late are given at fit.

        On time is 0; a closed bucket is its midpoint; the open last bucket is its lower
        edge plus half the width of the bucket before it (or 15 days if there is none).
        """
        thresholds = self.thresholds_days
        middle = [(low + 1 + high) / 2 for low, high in itertools.pairwise(thresholds)]
        last_width = (thresholds[-1] - thresholds[-2]) if len(thresholds) > 1 else 30.0
        return np.asarray([0.0, *middle, thresholds[-1] + last_width / 2], dtype="float64")
