"""Ledger columns as arrays, exactly as pandas converts them, without its per-call detours.

A one-customer ``build_features`` handles a few dozen values per column, so what pandas
does around a conversion costs more than the conversion: ``astype("string")`` looks the
dtype up by name (~0.2 ms each time), ``to_numpy(na_value=...)`` builds a mask and a copy
even when nothing is missing. These helpers skip that work where it cannot change the
result, and fall back to the plain pandas call otherwise.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
from pandas.api.extensions import ExtensionArray

# The dtype ``"string"`` names, built once (by name it is looked up on every use).
STRING = pd.StringDtype()


def string_array(values: pd.Series | pd.Index | ExtensionArray | np.ndarray) -> ExtensionArray:
    """``values.astype("string")`` as a pandas array (no copy when already that dtype)."""
    if values.dtype == STRING:
        return values.array if isinstance(values, pd.Series | pd.Index) else values
    return pd.array(values, dtype=STRING)


def float_array(values: pd.Series, na_value: float = np.nan) -> np.ndarray:
    """``values.to_numpy(np.float64, na_value=na_value)``, skipping the mask when the
    column is plain float64 (its only missing value is NaN)."""
    if values.dtype == np.float64:
        floats = values.to_numpy(np.float64)
        if np.isnan(na_value):
            return floats
        return np.where(np.isnan(floats), na_value, floats)
    return values.to_numpy(np.float64, na_value=na_value)


def flag_array(values: pd.Series, positions: np.ndarray) -> np.ndarray:
    """A nullable boolean column at ``positions`` as 1.0 / 0.0 / NaN (missing)."""
    return values.array.take(positions).to_numpy(np.float64, na_value=np.nan)


def arrow_strings(values: pd.Series | pd.Index | ExtensionArray) -> pa.Array:
    """``string_array(values)`` as one Arrow array (pandas may hold it in several chunks)."""
    converted = pa.array(string_array(values))
    return converted.combine_chunks() if isinstance(converted, pa.ChunkedArray) else converted


def encode_strings(
    arrays: Sequence[pd.Series | ExtensionArray],
) -> tuple[ExtensionArray, list[np.ndarray]]:
    """The distinct non-missing strings of ``arrays`` in order of first appearance, and
    each array's values as positions in them (int64, -1 where missing): one hash pass
    for all arrays instead of a unique, then a lookup per array."""
    chunks = [arrow_strings(array) for array in arrays]
    kind = chunks[0].type if chunks else pa.large_string()
    encoded = pa.concat_arrays([chunk.cast(kind) for chunk in chunks]).dictionary_encode()
    codes = _null_to_minus_one(encoded.indices)
    bounds = np.cumsum([len(chunk) for chunk in chunks])[:-1]
    return pd.array(encoded.dictionary, dtype=STRING), np.split(codes, bounds)


def _null_to_minus_one(positions: pa.Array) -> np.ndarray:
    # Integer positions with nulls -> float64 with NaN (exact), then -1 for the NaN.
    as_float = positions.to_numpy(zero_copy_only=False)
    return np.where(np.isnan(as_float), -1, as_float).astype(np.int64)


def has_repeats(values: ExtensionArray) -> bool:
    """Whether any value (missing counts as a value) occurs more than once."""
    return len(pc.unique(arrow_strings(values))) < len(values)


def positions_in(
    values: pd.Series | pd.Index | ExtensionArray, unique_ids: ExtensionArray
) -> np.ndarray:
    """Position of each value in ``unique_ids`` (int64), -1 where absent or missing."""
    # Arrow's hash lookup: several times faster than Index.get_indexer on string ids.
    found = pc.index_in(arrow_strings(values), value_set=arrow_strings(unique_ids))
    return _null_to_minus_one(found)
