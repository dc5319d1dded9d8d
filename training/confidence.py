"""How sure a metric is: ROC AUC intervals from a bootstrap over customers.

Rows of one customer share its payment habits, so resampling rows would overstate the
evidence; resampling whole customers (with replacement) keeps that dependence.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def weighted_roc_auc(target: np.ndarray, score: np.ndarray, weight: np.ndarray) -> float:
    """ROC AUC with row weights (ties count one half); NaN if a class has no weight."""
    order = np.argsort(score, kind="stable")
    sorted_score = score[order]
    group = np.concatenate([[0], np.cumsum(sorted_score[1:] != sorted_score[:-1])])
    positive = np.bincount(group, weight[order] * target[order])
    negative = np.bincount(group, weight[order] * (1.0 - target[order]))
    total_pos, total_neg = positive.sum(), negative.sum()
    if total_pos <= 0 or total_neg <= 0:
        return float("nan")
    negatives_below = np.cumsum(negative) - negative
    return float(np.sum(positive * (negatives_below + 0.5 * negative)) / (total_pos * total_neg))


def bootstrap_auc_interval(
    target: np.ndarray, score: np.ndarray, clusters: np.ndarray, rounds: int, seed: int
) -> tuple[float, float]:
    """95% interval of ROC AUC, resampling whole clusters (customers) with replacement."""
    known = ~np.isnan(target)
    target, score = target[known], score[known]
    codes = pd.factorize(clusters[known])[0]
    n_clusters = int(codes.max()) + 1 if codes.size else 0
    if rounds == 0 or n_clusters < 2 or np.unique(target).size < 2:
        return float("nan"), float("nan")
    rng = np.random.default_rng(seed)
    values = np.array(
        [
            weighted_roc_auc(
                target,
                score,
                np.bincount(rng.integers(0, n_clusters, n_clusters), minlength=n_clusters)[
                    codes
                ].astype("float64"),
            )
            for _ in range(rounds)
        ]
    )
    values = values[~np.isnan(values)]
    if values.size == 0:
        return float("nan"), float("nan")
    low, high = np.percentile(values, [2.5, 97.5])
    return float(low), float(high)
