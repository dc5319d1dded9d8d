"""Re-score saved models on the current ledger: the test of the gate and ``payrisk evaluate``.

``latest_test_period`` builds the same out-of-time split ``payrisk train`` would build on
this ledger today (features point in time); ``rescore`` measures any model on its test
rows, the same metrics as training (no bootstrap: the gate compares point values), so a
challenger and a champion trained on different ledgers are compared on the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import Any

import pandas as pd

from features.registry import FEATURE_NAMES
from ledger.frames import Ledger
from models.buckets import LateBuckets
from training.configs import evaluation_config_from, split_config_from
from training.dataset import (
    TrainingSettings,
    buckets_from,
    build_training_frame,
    data_cutoff_of,
    ledger_date_range,
)
from training.evaluate import evaluate
from training.pipeline import BASELINES
from training.split import SplitPlan, plan_split, split_frame


@dataclass(frozen=True)
class EvaluationPeriod:
    """The current ledger's latest out-of-time split, labeled, ready to score."""

    splits: dict[str, pd.DataFrame]
    plan: SplitPlan
    buckets: LateBuckets

    @property
    def description(self) -> str:
        """E.g. ``test as-of 2026-05-01..2026-07-31 (1234 rows)``."""
        first, last = self.plan.bounds("test")
        return f"test as-of {first:%Y-%m-%d}..{last:%Y-%m-%d} ({len(self.splits['test'])} rows)"


def latest_test_period(
    ledger: Ledger, settings: TrainingSettings, *, oracle: pd.DataFrame | None = None
) -> EvaluationPeriod:
    """Build the same split ``train`` would build on this ledger (features point in time)."""
    buckets, config = buckets_from(settings), split_config_from(settings)
    first_date, _ = ledger_date_range(ledger)
    cutoff = data_cutoff_of(ledger, settings)
    plan = plan_split(first_date, cutoff, config)
    frame = build_training_frame(ledger, settings, oracle=oracle, cutoff=cutoff)
    return EvaluationPeriod(split_frame(frame, plan, config, buckets), plan, buckets)


def rescore(
    model: Any,
    period: EvaluationPeriod,
    settings: TrainingSettings,
    *,
    with_baselines: bool = False,
) -> pd.DataFrame:
    """Tidy test metrics (``scorer, slice, metric, value``) of ``model`` on ``period``.

    ``with_baselines`` refits the cheap baselines on the period's training rows.
    No bootstrap intervals: the gate compares point values.
    """
    baselines: dict[str, Any] = {}
    if with_baselines:
        train, validation = (
            period.splits[name].loc[period.splits[name]["bucket_known"]]
            for name in ("train", "validation")
        )
        features, val_features = train[list(FEATURE_NAMES)], validation[list(FEATURE_NAMES)]
        baselines = {
            name: factory(buckets=period.buckets).fit(
                features,
                train["bucket"].to_numpy(dtype="int64"),
                X_val=val_features,
                y_val=validation["bucket"].to_numpy(dtype="int64"),
            )
            for name, factory in BASELINES.items()
        }
    config = replace(evaluation_config_from(settings), bootstrap_rounds=0)
    test = period.splits["test"]
    return evaluate(model, baselines, test, period.buckets, config, with_curves=False).metrics


def model_metrics(metrics: pd.DataFrame, scorer: str = "model") -> dict[str, float]:
    """``{metric: value}`` of one scorer on the slice ``all``."""
    rows = metrics.loc[(metrics["scorer"] == scorer) & (metrics["slice"] == "all")]
    return dict(zip(rows["metric"], rows["value"].astype("float64"), strict=True))
