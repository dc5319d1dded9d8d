"""The quick column conversions give exactly what the plain pandas calls give."""

from __future__ import annotations

import numpy as np
import pandas as pd

from features.activities import activity_kinds
from features.columns import encode_strings, flag_array, float_array, positions_in, string_array


def _chunked(values: list[str | None]) -> pd.Series:
    """A string column held in several Arrow chunks, as concatenation leaves it."""
    half = len(values) // 2
    parts = [pd.Series(values[:half], dtype="string"), pd.Series(values[half:], dtype="string")]
    return pd.concat(parts, ignore_index=True)


def test_encode_strings_is_unique_then_positions() -> None:
    tables = [
        _chunked(["c2", "c1", None, "c2"]),
        pd.Series([], dtype="string"),
        pd.Series(["c3", "c1"], dtype=object),
    ]
    ids, codes = encode_strings(tables)
    expected_ids = pd.concat(tables, ignore_index=True).astype("string").dropna().unique()
    assert list(ids) == list(expected_ids) == ["c2", "c1", "c3"]
    assert ids.dtype == "string"
    assert [code.tolist() for code in codes] == [[0, 1, -1, 0], [], [2, 1]]


def test_positions_in_marks_absent_and_missing_values() -> None:
    ids = pd.array(["a", "b", "c"], dtype="string")
    values = _chunked(["c", None, "x", "a"])
    assert positions_in(values, ids).tolist() == [2, -1, -1, 0]


def test_activity_kinds_trim_and_lower_like_pandas() -> None:
    kinds = pd.Series([" Promise", "REMINDER ", None, "dispute_opened\t"], dtype="string")
    expected = kinds.str.strip().str.lower().to_numpy(object, na_value="")
    result = activity_kinds(pd.DataFrame({"kind": kinds}))
    assert result.tolist() == expected.tolist() == ["promise", "reminder", "", "dispute_opened"]


def test_string_float_and_flag_arrays_equal_the_pandas_conversions() -> None:
    text = pd.Series(["x", None], dtype=object)
    assert string_array(text).equals(text.astype("string").array)
    amounts = pd.Series([1.5, np.nan])
    for column in (amounts, amounts.astype("Float64")):
        np.testing.assert_array_equal(
            float_array(column, na_value=0.0), column.to_numpy(np.float64, na_value=0.0)
        )
    flags = pd.Series([True, None, False], dtype="boolean")
    expected = flags.astype("Float64").to_numpy(np.float64, na_value=np.nan)[[2, 1, 0]]
    np.testing.assert_array_equal(flag_array(flags, np.array([2, 1, 0])), expected)
