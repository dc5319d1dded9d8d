"""Running sums, maxima and medians within groups of sorted codes, bit for bit what pandas'
``groupby(codes).cumsum() / .cummax() / .expanding().median()`` give, at NumPy speed.

``features.asof`` sorts events by (group, day) once; these turn the sorted columns into
per-group running values. pandas' own calls cost ~0.3 ms of overhead each, which on a
one-customer ``build_features`` (a dozen such calls) was most of the time; the results
must stay identical, so sums keep pandas' compensated (Kahan) summation.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cache

import numpy as np
import pandas as pd


def group_starts(sorted_codes: np.ndarray) -> np.ndarray:
    """Position of the first event of each run of equal codes."""
    if len(sorted_codes) == 0:
        return np.zeros(0, dtype=np.int64)
    changes = np.flatnonzero(sorted_codes[1:] != sorted_codes[:-1]) + 1
    return np.concatenate((np.zeros(1, dtype=np.int64), changes))


def group_labels(sorted_codes: np.ndarray) -> np.ndarray:
    """0, 1, 2, ... numbering the runs of equal codes (intp, as pandas' kernels want)."""
    changes = np.empty(len(sorted_codes), dtype=np.intp)
    changes[:1] = 0
    np.not_equal(sorted_codes[1:], sorted_codes[:-1], out=changes[1:])
    return np.cumsum(changes, out=changes)


_Kernel = Callable[..., None]


@cache
def _cumsum_kernel() -> _Kernel | None:
    """pandas' Cython kernel behind ``groupby().cumsum()``, if this pandas has it as expected.

    The public call costs ~0.3 ms of pandas overhead per column, which is most of a
    one-customer ``build_features``; the kernel does the same (Kahan-compensated) sums in
    microseconds. It is private API, so it is used only after a probe shows it gives
    exactly the public result, else the public call is used.
    """
    try:
        from pandas._libs.groupby import group_cumsum
    except ImportError:
        return None
    probe = np.array([[0.1, 1.0], [0.2, np.nan], [0.7, 3.0], [1e16, 1.0], [1.0, 2.0]])
    codes = np.array([0, 0, 0, 1, 1])
    try:
        result = _kernel_cumsums(group_cumsum, probe, codes)
    except (TypeError, ValueError):
        return None
    agrees = np.array_equal(result, _public_cumsums(probe, codes), equal_nan=True)
    return group_cumsum if agrees else None


def _kernel_cumsums(kernel: _Kernel, matrix: np.ndarray, sorted_codes: np.ndarray) -> np.ndarray:
    labels = group_labels(sorted_codes)
    out = np.empty_like(matrix)
    kernel(
        out=out,
        values=matrix,
        labels=labels,
        ngroups=int(labels[-1]) + 1,
        is_datetimelike=False,
        skipna=True,
    )
    return out


def _public_cumsums(matrix: np.ndarray, sorted_codes: np.ndarray) -> np.ndarray:
    frame = pd.DataFrame(matrix, copy=False)
    return frame.groupby(sorted_codes, sort=False).cumsum().to_numpy(np.float64)


def group_cumsums(matrix: np.ndarray, sorted_codes: np.ndarray) -> np.ndarray:
    """Running sums of each column of ``matrix`` (n x k float64), restarting at each new
    code (codes sorted): exactly ``groupby(codes).cumsum()``, whose compensated sums a
    plain ``np.cumsum`` would not reproduce bit for bit."""
    matrix = np.ascontiguousarray(matrix, dtype=np.float64)
    if matrix.shape[0] == 0 or matrix.shape[1] == 0:
        return matrix.copy()
    kernel = _cumsum_kernel()
    if kernel is None:
        return _public_cumsums(matrix, sorted_codes)
    return _kernel_cumsums(kernel, matrix, sorted_codes)


def group_cumsum(values: np.ndarray, sorted_codes: np.ndarray) -> np.ndarray:
    """Running sum of ``values`` restarting at each new code (codes sorted)."""
    return group_cumsums(np.asarray(values, dtype=np.float64)[:, None], sorted_codes)[:, 0]


def group_cummax(values: np.ndarray, sorted_codes: np.ndarray) -> np.ndarray:
    """Running max of integer ``values`` (int64) restarting at each new code (codes sorted).

    Exact: each group is shifted above every earlier group (code x span), so one
    ``np.maximum.accumulate`` never carries a maximum across groups.
    """
    values = np.asarray(values, dtype=np.int64)
    if len(values) == 0:
        return values
    low = int(values.min())
    span = int(values.max()) - low + 1
    shift = np.asarray(sorted_codes, dtype=np.int64) * span - low
    return np.maximum.accumulate(values + shift) - shift


# Above this many (query x prefix) values, medians come from pandas' running median.
_DIRECT_MEDIAN_VALUES = 200_000


def prefix_medians(values: np.ndarray, sorted_codes: np.ndarray, stop: np.ndarray) -> np.ndarray:
    """Per query, the median of ``values[group start:stop]`` (the group's events before
    ``stop``, NaN skipped; NaN if none): ``groupby(codes).expanding().median()`` at
    ``stop - 1``. Every ``stop`` must be past its group's start.

    Few queries (serving: one as-of day) sort just their prefixes; many (training
    snapshots, prefixes quadratic in a customer's invoices) take pandas' running median.
    """
    stops, inverse = np.unique(stop, return_inverse=True)
    if len(stops) == 0:
        return np.full(len(stop), np.nan)
    first = group_starts(sorted_codes)
    starts = first[np.searchsorted(first, stops - 1, side="right") - 1]
    lengths = stops - starts
    if int(lengths.sum()) > max(_DIRECT_MEDIAN_VALUES, 4 * len(values)):
        running = pd.Series(values).groupby(sorted_codes, sort=False).expanding().median()
        return running.to_numpy()[stop - 1]  # rows come back grouped: codes sorted, same order
    query = np.repeat(np.arange(len(stops)), lengths)
    offsets = np.cumsum(lengths) - lengths
    picked = values[np.arange(len(query)) - np.repeat(offsets - starts, lengths)]
    ordered = picked[np.lexsort((picked, query))]  # NaN sorts last within each query
    counts = np.bincount(query, weights=~np.isnan(picked), minlength=len(stops)).astype(np.int64)
    upper = ordered[offsets + counts // 2]
    lower = ordered[offsets + np.maximum(counts - 1, 0) // 2]
    # pandas: the middle value for an odd count, (upper + lower) / 2 for an even one.
    medians = np.where(counts % 2 == 1, upper, (upper + lower) / 2)
    return np.where(counts > 0, medians, np.nan)[inverse.reshape(-1)]
