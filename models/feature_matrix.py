"""The float64 matrix LightGBM sees, built from a feature frame the same way at fit and predict.

Categorical columns (any non-numeric dtype) get their levels learned at fit and are passed
to LightGBM as native categoricals: one column of level codes each, so one SHAP value per
feature. A level never seen at fit, or a missing value, is NaN ("missing") at predict.
Numeric columns are taken as they are when already float64 (the feature builder's dtype:
no conversion on the serving path), converted otherwise, or refused with the column's name.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from features.columns import STRING, positions_in
from ledger.errors import PayriskError


class FeatureMismatchError(PayriskError):
    """The frame given to predict lacks columns the model was trained on, or has bad values."""


def is_categorical(series: pd.Series) -> bool:
    """True for a column the models treat as categorical: any non-numeric, non-bool dtype."""
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def learn_category_levels(X: pd.DataFrame, categorical: Sequence[str]) -> dict[str, list[str]]:
    """Each categorical column's sorted levels (as strings) in ``X``, missing values skipped."""
    return {name: sorted(X[name].dropna().astype(str).unique().tolist()) for name in categorical}


def feature_matrix(
    X: pd.DataFrame, feature_names: Sequence[str], category_levels: Mapping[str, Sequence[str]]
) -> np.ndarray:
    """``X``'s ``feature_names`` columns, in that order, as float64; categories as level codes.

    Raises ``FeatureMismatchError`` naming the missing columns, or a column that is
    neither categorical nor numeric.
    """
    present = set(X.columns)
    missing = [name for name in feature_names if name not in present]
    if missing:
        raise FeatureMismatchError(f"the rows lack the model's feature columns {missing}")
    matrix = np.empty((len(X), len(feature_names)), dtype="float64")
    for position, name in enumerate(feature_names):
        values = X[name]
        if name in category_levels:
            text = values if values.dtype == STRING else values.astype(STRING)
            codes = positions_in(text, _levels_index(tuple(category_levels[name])))
            matrix[:, position] = np.where(codes < 0, np.nan, codes)
        elif values.dtype == np.float64:  # the feature builder's dtype: no conversion
            matrix[:, position] = values.to_numpy()
        else:
            matrix[:, position] = _numeric_column(name, values)
    return matrix


@functools.lru_cache(maxsize=256)
def _levels_index(levels: tuple[str, ...]) -> pd.Index:
    """A categorical feature's learned levels as an index (built once per level set)."""
    return pd.Index(list(levels), dtype=STRING)


def _numeric_column(name: str, values: pd.Series) -> np.ndarray:
    """A non-float64 feature column as float64 (NaN for missing), or a clear error."""
    try:
        return pd.to_numeric(values).astype("float64").to_numpy(na_value=np.nan)
    except (TypeError, ValueError) as error:
        raise FeatureMismatchError(f"feature {name!r} must be numeric: {error}") from None
