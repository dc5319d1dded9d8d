"""The point-in-time primitives against brute force on small random arrays."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features import grouped
from features.asof import EventTable, range_max, recent_values, to_days, unique_points
from features.grouped import group_cummax, group_cumsums, prefix_medians


def test_totals_and_windows_match_brute_force() -> None:
    rng = np.random.default_rng(0)
    codes, days = rng.integers(0, 4, 60), rng.integers(100, 200, 60)
    amounts = rng.integers(1, 50, 60).astype(float)
    table = EventTable(codes, days, {"amount": amounts})
    q_codes, q_days = rng.integers(0, 5, 40), rng.integers(50, 260, 40)
    expected_total = [
        amounts[(codes == c) & (days <= d)].sum() for c, d in zip(q_codes, q_days, strict=False)
    ]
    expected_window = [
        amounts[(codes == c) & (days <= d - 7) & (days > d - 37)].sum()
        for c, d in zip(q_codes, q_days, strict=False)
    ]
    np.testing.assert_allclose(table.total("amount", q_codes, q_days), expected_total)
    np.testing.assert_allclose(
        table.window_total("amount", q_codes, q_days, 30, lag_days=7), expected_window
    )


def test_days_since_last_is_nan_before_the_first_event() -> None:
    table = EventTable(np.array([0, 0, 1]), np.array([10, 20, 5]))
    result = table.days_since_last(np.array([0, 0, 0, 1, 2]), np.array([9, 15, 20, 5, 30]))
    np.testing.assert_array_equal(result, [np.nan, 5, 0, 0, np.nan])


def test_recent_values_skip_one_position_and_stop_at_the_group_start() -> None:
    values = np.array([1.0, 2.0, 3.0, 4.0, 5.0, 6.0])
    picked = recent_values(
        values,
        start=np.array([0, 2, 0]),
        stop=np.array([6, 4, 6]),
        skip=np.array([-1, -1, 4]),
        count=3,
    )
    np.testing.assert_array_equal(picked, [[6, 5, 4], [4, 3, np.nan], [6, 4, 3]])


def test_range_max_matches_brute_force() -> None:
    rng = np.random.default_rng(1)
    values = rng.normal(size=37)
    start = rng.integers(0, 37, 50)
    stop = np.minimum(start + rng.integers(0, 20, 50), 37)
    expected = [values[a:b].max() if b > a else -np.inf for a, b in zip(start, stop, strict=False)]
    np.testing.assert_array_equal(range_max(values, start, stop), expected)


def test_unique_points_round_trip() -> None:
    codes = np.array([2, 0, 2, 0, 1])
    days = to_days(
        np.array(
            ["2024-01-02", "2024-01-01", "2024-01-02", "2023-12-31", "2024-01-01"],
            dtype="datetime64[ns]",
        )
    )
    u_codes, u_days, inverse = unique_points(codes, days)
    assert u_codes.tolist() == [0, 0, 1, 2]
    np.testing.assert_array_equal(u_codes[inverse], codes)
    np.testing.assert_array_equal(u_days[inverse], days)


def test_group_cumsums_are_pandas_groupby_cumsums_bit_for_bit() -> None:
    """Both the kernel and the public path: compensated sums, which np.cumsum is not."""
    rng = np.random.default_rng(2)
    codes = np.sort(rng.integers(0, 5, 400))
    matrix = rng.lognormal(8, 1, (400, 3)).round(2)
    matrix[rng.random((400, 3)) < 0.05] = np.nan
    expected = pd.DataFrame(matrix).groupby(codes).cumsum().to_numpy()
    np.testing.assert_array_equal(group_cumsums(matrix, codes), expected)
    np.testing.assert_array_equal(grouped._public_cumsums(matrix, codes), expected)
    plain = np.nancumsum(matrix[codes == codes[0]], axis=0)
    assert not np.array_equal(plain, expected[codes == codes[0]])  # why it matters


def test_group_cummax_restarts_at_each_code() -> None:
    rng = np.random.default_rng(3)
    codes = np.sort(rng.integers(-1, 6, 200))
    values = rng.integers(-400, 400, 200)
    expected = pd.Series(values).groupby(codes).cummax().to_numpy()
    np.testing.assert_array_equal(group_cummax(values, codes), expected)


@pytest.mark.parametrize("direct", [True, False])
def test_prefix_medians_match_pandas_running_medians(monkeypatch, direct: bool) -> None:  # type: ignore[no-untyped-def]
    """Both ways (sorting the prefixes, pandas' running median) against pandas."""
    monkeypatch.setattr(grouped, "_DIRECT_MEDIAN_VALUES", 10**9 if direct else 0)
    rng = np.random.default_rng(4)
    codes = np.sort(rng.integers(0, 4, 120))
    values = rng.choice([10.0, 20.5, 33.3, 40.0, np.nan], 120)  # ties, even counts, NaN
    running = pd.Series(values).groupby(codes).expanding().median().to_numpy()
    stop = rng.integers(1, 121, 300)
    np.testing.assert_array_equal(prefix_medians(values, codes, stop), running[stop - 1])
