"""Reference profiles and the population stability index (PSI): pure functions, no I/O.

A *reference profile* is taken at training time and travels with the model: for every
numeric feature and score, quantile bin edges learned from the reference rows and the
share of rows in each bin, plus the share of missing values; for every categorical
feature, the shares of its most frequent categories, of the rest (``other``) and of
missing. Recent rows are binned with the same edges and compared bin by bin:

    PSI = sum over bins of (recent share - reference share) * ln(recent / reference)

with shares floored at ``SHARE_FLOOR`` so an empty bin does not make it infinite. Usual
reading (Siddiqi, *Credit Risk Scorecards*): < 0.1 stable, 0.1-0.25 a shift worth a
look, > 0.25 a population the model was not built on. With n recent rows and b bins,
PSI from sampling noise alone is about (b - 1) / n, so small samples read high.
"""

from __future__ import annotations

import itertools
import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Literal, Protocol

import numpy as np
import pandas as pd

from ledger.errors import PayriskError
from models.buckets import LateBuckets

PROFILE_FORMAT = 1
DEFAULT_BINS = 10
MAX_CATEGORIES = 20
SHARE_FLOOR = 1e-4
OTHER = "__other__"
Status = Literal["ok", "warn", "alert", "unknown"]
STATUS_ORDER: tuple[Status, ...] = ("unknown", "ok", "warn", "alert")


class ProbabilisticModel(Protocol):
    """What ``training_profile`` needs of a fitted model."""

    def predict_proba(self, features: pd.DataFrame) -> np.ndarray: ...


class ProfileError(PayriskError):
    """A reference profile that cannot be read or does not fit the rows compared with it."""


@dataclass(frozen=True)
class BinnedDistribution:
    """One column's reference: its bins and the share of reference rows in each.

    Numeric: ``edges`` (inner, ascending), bins ``(-inf, e0], (e0, e1], ... (e_last, inf)``
    then missing. Categorical: ``categories``, then ``other``, then missing. ``shares``
    sum to 1 over all bins, the last one always missing.
    """

    kind: Literal["numeric", "categorical"]
    shares: tuple[float, ...]
    edges: tuple[float, ...] = ()
    categories: tuple[str, ...] = ()

    @property
    def missing_share(self) -> float:
        """Share of reference rows where the value was missing (0-1)."""
        return self.shares[-1]

    def counts(self, values: pd.Series) -> np.ndarray:
        """Rows of ``values`` per bin (same bins as ``shares``)."""
        if self.kind == "numeric":
            numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
            missing = np.isnan(numbers)
            position = np.searchsorted(np.asarray(self.edges), numbers, side="left")
            position = np.where(missing, len(self.edges) + 1, position)
            return np.bincount(position, minlength=len(self.edges) + 2).astype("float64")
        text = values.astype("string")
        lookup = {category: position for position, category in enumerate(self.categories)}
        other, missing = len(self.categories), len(self.categories) + 1
        positions = [missing if pd.isna(value) else lookup.get(str(value), other) for value in text]
        return np.bincount(np.asarray(positions, dtype="int64"), minlength=missing + 1).astype(
            "float64"
        )

    def bin_labels(self) -> list[str]:
        """Human-readable bin names, in ``shares`` order."""
        if self.kind == "categorical":
            return [*self.categories, "other", "missing"]
        bounds = ["-inf", *(f"{edge:.4g}" for edge in self.edges), "inf"]
        return [f"({low}, {high}]" for low, high in itertools.pairwise(bounds)] + ["missing"]


@dataclass(frozen=True)
class ReferenceProfile:
    """The reference of every feature and score, and how many rows it was taken from."""

    features: dict[str, BinnedDistribution]
    scores: dict[str, BinnedDistribution]
    feature_rows: int
    score_rows: int
    description: str = ""
    format: int = PROFILE_FORMAT
    extra: dict[str, str] = field(default_factory=dict)

    def to_json(self) -> str:
        """The profile as JSON (stored beside the model)."""
        return json.dumps(asdict(self), indent=1, sort_keys=True)

    @classmethod
    def from_json(cls, text: str) -> ReferenceProfile:
        """Read ``to_json``'s output; ``ProfileError`` if it is not a profile."""
        try:
            raw = json.loads(text)
            if raw.get("format") != PROFILE_FORMAT:
                raise ProfileError(f"reference profile format {raw.get('format')!r} is unknown")
            return cls(
                features={k: _distribution(v) for k, v in raw["features"].items()},
                scores={k: _distribution(v) for k, v in raw["scores"].items()},
                feature_rows=int(raw["feature_rows"]),
                score_rows=int(raw["score_rows"]),
                description=str(raw.get("description", "")),
                extra=dict(raw.get("extra", {})),
            )
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            raise ProfileError(f"not a reference profile: {error}") from error


def _distribution(raw: Mapping[str, object]) -> BinnedDistribution:
    kind = str(raw["kind"])
    if kind not in ("numeric", "categorical"):
        raise ProfileError(f"unknown column kind {kind!r} in the reference profile")
    return BinnedDistribution(
        kind="numeric" if kind == "numeric" else "categorical",
        shares=tuple(float(share) for share in raw["shares"]),  # type: ignore[attr-defined]
        edges=tuple(float(edge) for edge in raw.get("edges", ())),  # type: ignore[attr-defined]
        categories=tuple(str(c) for c in raw.get("categories", ())),  # type: ignore[attr-defined]
    )


def numeric_distribution(values: pd.Series, n_bins: int = DEFAULT_BINS) -> BinnedDistribution:
    """Quantile bins of ``values`` (at most ``n_bins``; fewer when values repeat)."""
    numbers = pd.to_numeric(values, errors="coerce").to_numpy(dtype="float64")
    present = numbers[~np.isnan(numbers)]
    inner = np.linspace(0.0, 1.0, n_bins + 1)[1:-1]
    edges = np.unique(np.quantile(present, inner)) if present.size else np.array([])
    # a top edge equal to the maximum would leave the last bin empty by construction
    edges = edges[edges < present.max()] if present.size else edges
    empty = BinnedDistribution("numeric", (), tuple(float(edge) for edge in edges))
    return _with_shares(empty, values)


def categorical_distribution(
    values: pd.Series, max_categories: int = MAX_CATEGORIES
) -> BinnedDistribution:
    """Shares of the ``max_categories`` most frequent categories, the rest, and missing."""
    counts = values.astype("string").dropna().value_counts(sort=True)
    top = tuple(sorted(str(name) for name in counts.index[:max_categories]))
    return _with_shares(BinnedDistribution("categorical", (), (), top), values)


def _with_shares(empty: BinnedDistribution, values: pd.Series) -> BinnedDistribution:
    counts = empty.counts(values)
    shares = counts / counts.sum() if counts.sum() > 0 else counts
    return BinnedDistribution(
        empty.kind, tuple(float(share) for share in shares), empty.edges, empty.categories
    )


def build_profile(
    features: pd.DataFrame,
    scores: pd.DataFrame,
    categorical: Sequence[str],
    *,
    n_bins: int = DEFAULT_BINS,
    description: str = "",
) -> ReferenceProfile:
    """The reference profile of every column of ``features`` and ``scores``.

    ``categorical`` names the categorical feature columns; every other column is numeric.
    """
    return ReferenceProfile(
        features={
            name: categorical_distribution(features[name])
            if name in categorical
            else numeric_distribution(features[name], n_bins)
            for name in features.columns
        },
        scores={name: numeric_distribution(scores[name], n_bins) for name in scores.columns},
        feature_rows=len(features),
        score_rows=len(scores),
        description=description,
    )


def psi(reference_shares: Sequence[float], recent_counts: np.ndarray) -> float:
    """PSI of recent bin counts against reference shares; NaN when there are no recent rows."""
    counts = np.asarray(recent_counts, dtype="float64")
    if counts.sum() <= 0:
        return math.nan
    expected = np.maximum(np.asarray(reference_shares, dtype="float64"), SHARE_FLOOR)
    actual = np.maximum(counts / counts.sum(), SHARE_FLOOR)
    return float(np.sum((actual - expected) * np.log(actual / expected)))


def status_of(value: float, warn: float, alert: float) -> Status:
    """``ok`` below ``warn``, ``warn`` below ``alert``, else ``alert``; NaN is ``unknown``."""
    if math.isnan(value):
        return "unknown"
    if value >= alert:
        return "alert"
    return "warn" if value >= warn else "ok"


def worst(statuses: Sequence[Status]) -> Status:
    """The most severe status of several (``unknown`` only if all are unknown or none)."""
    return max(statuses, key=STATUS_ORDER.index, default="unknown")


def drift_table(
    profile: ReferenceProfile,
    features: pd.DataFrame,
    scores: pd.DataFrame,
    *,
    warn: float,
    alert: float,
) -> pd.DataFrame:
    """PSI of every profiled column present in ``features`` / ``scores``, most drifted first.

    Columns: ``column``, ``kind`` (``score`` or ``feature``), ``psi``, ``status``,
    ``reference_missing_share``, ``recent_missing_share``, ``rows``.
    """
    lines = []
    for kind, reference, frame in (
        ("score", profile.scores, scores),
        ("feature", profile.features, features),
    ):
        for name, distribution in reference.items():
            if name not in frame.columns:
                continue
            counts = distribution.counts(frame[name])
            value = psi(distribution.shares, counts)
            lines.append(
                {
                    "column": name,
                    "kind": kind,
                    "psi": value,
                    "status": status_of(value, warn, alert),
                    "reference_missing_share": distribution.missing_share,
                    "recent_missing_share": counts[-1] / counts.sum() if counts.sum() else math.nan,
                    "rows": int(counts.sum()),
                }
            )
    table = pd.DataFrame(
        lines,
        columns=[
            "column",
            "kind",
            "psi",
            "status",
            "reference_missing_share",
            "recent_missing_share",
            "rows",
        ],
    )
    return table.sort_values(["kind", "psi"], ascending=[False, False], ignore_index=True)


def training_profile(
    model: ProbabilisticModel,
    reference_features: pd.DataFrame,
    score_features: pd.DataFrame,
    buckets: LateBuckets,
) -> ReferenceProfile:
    """The profile a trained model carries: features of its training rows, scores out of time.

    Feature bins come from ``reference_features`` (the training split's rows); the score
    bins from the model's P(late) and P(> 30) on ``score_features`` (the out-of-time test
    rows: on its own training rows a boosted model scores more extreme than on new rows,
    which would read as drift on every later period).
    """
    proba = model.predict_proba(score_features)
    scores = pd.DataFrame({"p_late": buckets.p_late(proba), "p_over_30": buckets.p_over(proba, 30)})
    categorical = tuple(getattr(model, "categorical_features_", ()))
    return build_profile(
        reference_features,
        scores,
        categorical,
        description=(
            f"features: {len(reference_features)} training rows; "
            f"scores: {len(score_features)} out-of-time test rows (grid snapshots)"
        ),
    )
