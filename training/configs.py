"""The training settings turned into the configs of each step (split, evaluation, model)."""

from __future__ import annotations

from typing import Any

from training.dataset import TrainingSettings
from training.evaluate import EvaluationConfig
from training.split import SplitConfig


def split_config_from(settings: TrainingSettings) -> SplitConfig:
    """The split lengths and minimum sizes of the settings."""
    return SplitConfig(
        test_months=settings.test_months,
        validation_months=settings.validation_months,
        label_maturity_days=settings.label_maturity_days,
        min_train_months=settings.min_train_months,
        min_split_rows=settings.min_split_rows,
    )


def evaluation_config_from(settings: TrainingSettings) -> EvaluationConfig:
    """The evaluation knobs of the settings."""
    return EvaluationConfig(
        cold_start_min_paid=settings.cold_start_min_paid,
        small_sample_rows=settings.small_sample_rows,
        bootstrap_rounds=settings.bootstrap_rounds,
        seed=settings.random_seed,
    )


def model_params_from(settings: TrainingSettings) -> dict[str, Any]:
    """``PaymentRiskModel`` parameters (without the buckets) from the settings."""
    return {
        "n_estimators": settings.model_n_estimators,
        "learning_rate": settings.model_learning_rate,
        "num_leaves": settings.model_num_leaves,
        "min_child_samples": settings.model_min_child_samples,
        "early_stopping_rounds": settings.model_early_stopping_rounds,
        "calibration": settings.model_calibration,
        "calibration_shift_late": settings.model_calibration_shift_late,
        "random_state": settings.random_seed,
        "n_jobs": settings.model_n_jobs,
    }
