"""Explanations: the top reasons behind a prediction, from LightGBM's SHAP values.

What is explained. The booster is multiclass: for each bucket k, ``pred_contrib``
gives per-feature SHAP values phi[k, f] that add up (with a bias) to the raw score
z_k, and P(bucket k) = softmax(z)_k. We explain the log-odds of "late",

    L = log(sum_{k>=1} exp(z_k)) - z_0,

through its first-order expansion in the raw scores: dL/dz_0 = -1 and dL/dz_k = q_k,
with q_k = P(k) / P(late) the share of bucket k among the late buckets. So

    contribution[f] = sum_{k>=1} q_k * phi[k, f] - phi[0, f]

-- the late buckets' SHAP values weighted by how likely each late bucket is, minus the
on-time bucket's. A positive contribution pushes P(late) up ("raises"), a negative one
down ("lowers"). The contributions add up to L minus the entropy of q (a constant per
row, put in the bias), which is exact when one late bucket dominates. Calibration is a
monotone map of P(late), so the direction holds for the calibrated probability too.

Cost: ``pred_contrib`` (TreeSHAP) takes about trees x leaves x depth^2 per row, far more
than a prediction (e.g. ~0.8 ms of CPU per row for 230 trees of 31 leaves, depth ~10,
against ~0.01 ms to predict): explain the rows a person will read (a worklist page, one
customer), or cap ``max_depth``. The service explains with ``path_contributions`` by
default (``settings.score_reasons_method``), live and in the refresh alike. Turning
contributions into words is cheap (~0.2 s for 10k rows x 3 reasons).

A feature that was expanded into several columns (one-hot) is summed back into one
reason via ``groups``; with LightGBM's native categoricals it is already one column.
"""

from __future__ import annotations

import weakref
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

import lightgbm as lgb
import numpy as np
import pandas as pd
from scipy import sparse

from models.reasons import Lang, is_missing, render_reason

if TYPE_CHECKING:
    from models.estimator import PaymentRiskModel

Direction = Literal["raises", "lowers"]


# Features that say the same thing to a collector are one reason, shown by the first:
# days to due and days overdue; the amount and its log; the customer's late history.
REASON_GROUPS: dict[str, str] = {
    "days_overdue": "days_to_due",
    "log_amount": "amount",
    "late_invoices_count": "late_ratio_by_count",
    "late_ratio_by_amount": "late_ratio_by_count",
    "paid_invoices_count": "late_ratio_by_count",
}


@dataclass(frozen=True)
class Reason:
    """One reason for one prediction: which feature, its value, its push, and in words."""

    feature: str
    value: Any
    contribution: float
    direction: Direction
    text: str


def late_log_odds_contributions(
    raw_contrib: np.ndarray, n_classes: int, n_features: int
) -> np.ndarray:
    """Per-feature contributions (n, n_features) to the log-odds of late; see module doc.

    ``raw_contrib`` is ``Booster.predict(..., pred_contrib=True)`` of a multiclass
    booster: (n, n_classes * (n_features + 1)), each class's block ending with its bias.
    """
    per_class = np.asarray(raw_contrib, dtype="float64").reshape(-1, n_classes, n_features + 1)
    raw_scores = per_class.sum(axis=2)
    late_scores = raw_scores[:, 1:]
    late_weights = np.exp(late_scores - late_scores.max(axis=1, keepdims=True))
    late_weights /= late_weights.sum(axis=1, keepdims=True)
    late_part = np.einsum("nk,nkf->nf", late_weights, per_class[:, 1:, :n_features])
    return late_part - per_class[:, 0, :n_features]


def _leaf_paths(tree: dict[str, Any], n_features: int) -> tuple[np.ndarray, float]:
    """Per leaf, the value changes along its path summed per split feature; the root value."""
    root = tree["tree_structure"]
    table = np.zeros((int(tree["num_leaves"]), n_features))
    if "split_index" not in root:
        return table, float(root.get("leaf_value", 0.0))
    stack = [(root, np.zeros(n_features))]
    while stack:
        node, above = stack.pop()
        for child in (node["left_child"], node["right_child"]):
            is_leaf = "split_index" not in child
            child_value = child["leaf_value"] if is_leaf else child["internal_value"]
            path = above.copy()
            path[node["split_feature"]] += child_value - node["internal_value"]
            if is_leaf:
                table[int(child.get("leaf_index", 0))] = path
            else:
                stack.append((child, path))
    return table, float(root["internal_value"])


@dataclass(frozen=True)
class LeafTables:
    """A booster's per-leaf path attributions, stacked over trees (see ``path_contributions``)."""

    n_classes: int
    n_features: int
    stacked: np.ndarray  # (all leaves, n_features)
    offsets: np.ndarray  # first row in ``stacked`` of each tree
    roots: np.ndarray  # root value of each tree


# A fitted booster never changes, so its tables are built once, not on every call (the dump
# of a few hundred trees costs about half a second); dropped with the booster.
_LEAF_TABLES: weakref.WeakKeyDictionary[lgb.Booster, dict[int, LeafTables]] = (
    weakref.WeakKeyDictionary()
)


def leaf_tables(booster: lgb.Booster, num_iteration: int) -> LeafTables:
    """The booster's leaf tables for its first ``num_iteration`` rounds, cached per booster."""
    per_booster = _LEAF_TABLES.setdefault(booster, {})
    if num_iteration not in per_booster:
        dump = booster.dump_model(num_iteration=num_iteration)
        n_features = len(dump["feature_names"])
        tables, roots = zip(
            *(_leaf_paths(tree, n_features) for tree in dump["tree_info"]), strict=True
        )
        per_booster[num_iteration] = LeafTables(
            n_classes=int(dump["num_class"]),
            n_features=n_features,
            stacked=np.vstack(tables),
            offsets=np.cumsum([0] + [table.shape[0] for table in tables]),
            roots=np.asarray(roots),
        )
    return per_booster[num_iteration]


def path_contributions(booster: lgb.Booster, matrix: np.ndarray, num_iteration: int) -> np.ndarray:
    """Path attributions in ``pred_contrib`` layout: a fast approximation of SHAP.

    Each split on a row's path credits its feature with the change in the node value
    (Saabas' method); per class they add up to the raw score exactly, like SHAP, but
    cost one leaf lookup per tree instead of TreeSHAP's leaves x depth^2.
    """
    tables = leaf_tables(booster, num_iteration)
    n_classes, n_features = tables.n_classes, tables.n_features
    offsets, stacked, roots = tables.offsets, tables.stacked, tables.roots
    leaves = booster.predict(matrix, num_iteration=num_iteration, pred_leaf=True)
    leaf_ids = np.asarray(leaves, dtype="int64").reshape(matrix.shape[0], -1) + offsets[:-1]
    out = np.zeros((matrix.shape[0], n_classes, n_features + 1))
    for k in range(n_classes):
        trees = np.arange(k, leaf_ids.shape[1], n_classes)
        ids = leaf_ids[:, trees].ravel()
        row_starts = np.arange(0, ids.size + 1, max(trees.size, 1))
        picks = sparse.csr_matrix(
            (np.ones(ids.size), ids, row_starts), shape=(matrix.shape[0], stacked.shape[0])
        )
        out[:, k, :n_features] = picks @ stacked
        out[:, k, n_features] = roots[trees].sum()
    return out.reshape(matrix.shape[0], -1)


def aggregate_contributions(
    contributions: pd.DataFrame, groups: Mapping[str, str] | None = None
) -> pd.DataFrame:
    """Sum contribution columns into one reason each (``groups``: column -> feature).

    Columns not in ``groups`` are their own feature (e.g. one-hot columns map to their
    original feature). The column order of first appearance is kept.
    """
    if not groups:
        return contributions
    features = [groups.get(str(column), str(column)) for column in contributions.columns]
    summed = contributions.T.groupby(features, sort=False).sum().T
    summed.index = contributions.index
    return summed


def row_records(X: pd.DataFrame) -> list[dict[str, Any]]:
    """``X.to_dict("records")`` (missing text as None, like it), from one object array:
    several times as fast, which counts when every open invoice of a ledger is explained."""
    names = [str(column) for column in X.columns]
    # one conversion of the whole frame: each cell the Python object ``tolist`` gives
    # (float, str, Timestamp, pd.NA), without a Series per column
    rows = X.to_numpy(dtype=object).tolist()
    # extension arrays give pd.NA for a missing value, which to_dict shows as None
    extension = [at for at, dtype in enumerate(X.dtypes) if not isinstance(dtype, np.dtype)]
    for row in rows:
        for at in extension:
            if row[at] is pd.NA:
                row[at] = None
    return [dict(zip(names, row, strict=True)) for row in rows]


def top_reasons(
    contributions: pd.DataFrame,
    X: pd.DataFrame,
    *,
    k: int = 3,
    lang: Lang = "en",
    only: Direction | None = None,
) -> list[list[Reason]]:
    """The ``k`` largest reasons per row (by absolute contribution), in words.

    ``contributions`` has one column per original feature (see
    ``aggregate_contributions``) and aligns with ``X`` by position; values shown come
    from ``X``. ``only="raises"`` keeps reasons that push risk up (a worklist's "why"),
    ``"lowers"`` the opposite. Features with no contribution are never reasons.
    """
    values = contributions.to_numpy(dtype="float64")
    strength = np.abs(values)
    if only == "raises":
        strength = np.where(values > 0, strength, 0.0)
    elif only == "lowers":
        strength = np.where(values < 0, strength, 0.0)
    # twice as many candidates as needed, so a reason repeating another's words can be skipped
    order = np.argsort(-strength, axis=1, kind="stable")[:, : min(2 * k, values.shape[1])]
    features = np.asarray([str(column) for column in contributions.columns])
    context_rows = row_records(X)
    explained: list[list[Reason]] = []
    for row, columns in enumerate(order):
        reasons: list[Reason] = []
        for column in columns:
            if strength[row, column] <= 1e-12 or len(reasons) == k:
                break
            name = str(features[column])
            value = context_rows[row].get(name)
            text = render_reason(name, value, lang=lang, context=context_rows[row])
            if any(reason.text == text for reason in reasons):
                continue
            contribution = float(values[row, column])
            reasons.append(
                Reason(
                    feature=name,
                    value=None if is_missing(value) else value,
                    contribution=contribution,
                    direction="raises" if contribution > 0 else "lowers",
                    text=text,
                )
            )
        explained.append(reasons)
    return explained


def explain(
    model: PaymentRiskModel,
    X: pd.DataFrame,
    *,
    k: int = 3,
    lang: Lang = "en",
    only: Direction | None = None,
    method: Literal["shap", "path"] = "shap",
    groups: Mapping[str, str] | None = REASON_GROUPS,
) -> list[list[Reason]]:
    """Top ``k`` reasons per row of ``X`` for a fitted ``PaymentRiskModel``, in words.

    ``method="path"`` trades exact SHAP for speed (see ``path_contributions``);
    ``groups`` merges features into one reason (default ``REASON_GROUPS``).
    """
    contributions = model.contributions(X, method=method)
    # merge only into a feature the rows have, so its value can be shown
    usable = {
        column: target
        for column, target in (groups or {}).items()
        if target in contributions.columns
    }
    contributions = aggregate_contributions(contributions, usable)
    return top_reasons(contributions, X, k=k, lang=lang, only=only)


def reasons_frame(reasons: list[list[Reason]], index: pd.Index | None = None) -> pd.DataFrame:
    """Long table of reasons: one line per (row, rank) with the ``Reason`` fields.

    ``row`` holds ``index`` labels when given (e.g. the scored frame's index), else
    positions.
    """
    labels = list(index) if index is not None else list(range(len(reasons)))
    records = [
        {"row": labels[position], "rank": rank + 1, **reason.__dict__}
        for position, row_reasons in enumerate(reasons)
        for rank, reason in enumerate(row_reasons)
    ]
    columns = ["row", "rank", "feature", "value", "contribution", "direction", "text"]
    return pd.DataFrame.from_records(records, columns=columns)
