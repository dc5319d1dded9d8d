"""``train()``: ledger -> training frame -> out-of-time split -> model and baselines ->
evaluation on the test period and a backtest over earlier cutoffs.

No MLflow here: ``training.tracking`` logs a ``TrainingResult``. Same ledger and settings
(seed included) give identical metrics: LightGBM runs deterministic, every resample is
seeded, and the backtest refits with a fixed number of trees (the main model's best
iteration) instead of searching again, which also keeps it cheap.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import replace
from typing import Any

import pandas as pd
from threadpoolctl import threadpool_limits

from features.registry import FEATURE_NAMES
from ledger.errors import PayriskError
from ledger.frames import Ledger
from models.baselines import AgingBaseline, HistoricalLateRatioBaseline, LogisticBaseline
from models.buckets import LateBuckets
from models.estimator import PaymentRiskModel
from training.configs import evaluation_config_from, model_params_from, split_config_from
from training.dataset import (
    TrainingSettings,
    buckets_from,
    build_training_frame,
    data_cutoff_of,
    ledger_date_range,
)
from training.evaluate import evaluate
from training.result import DataFacts, TrainingResult, assemble_result
from training.split import (
    SplitPlan,
    backtest_cutoffs,
    plan_split,
    split_frame,
    split_summary,
)

logger = logging.getLogger(__name__)

BASELINES = {
    "aging": AgingBaseline,
    "historical_late_ratio": HistoricalLateRatioBaseline,
    "logistic": LogisticBaseline,
}


def ledger_fingerprint(ledger: Ledger) -> str:
    """sha256 over every table's columns and row hashes, rows sorted by key (order-free)."""
    digest = hashlib.sha256()
    for name, frame in sorted(ledger.tables().items()):
        key = frame.columns[0]
        ordered = frame.sort_values(key, kind="stable", ignore_index=True)
        digest.update(f"{name}:{','.join(map(str, frame.columns))}:{len(frame)}".encode())
        digest.update(pd.util.hash_pandas_object(ordered, index=False).to_numpy().tobytes())
    return digest.hexdigest()


def fit_all(
    splits: dict[str, pd.DataFrame], buckets: LateBuckets, model_params: dict[str, Any]
) -> tuple[PaymentRiskModel, dict[str, Any]]:
    """The model and every baseline, fitted on the train rows with a known bucket.

    The model's calibrator also learns from the right-censored validation rows (through
    ``bucket_floor``, when the split has it); early stopping and the baselines use the
    validation rows with a known bucket only.
    """
    train = splits["train"].loc[splits["train"]["bucket_known"]]
    all_validation = splits["validation"]
    validation = all_validation.loc[all_validation["bucket_known"]]
    features, target = train[list(FEATURE_NAMES)], train["bucket"].to_numpy(dtype="int64")
    censored_too = "bucket_floor" in all_validation
    calibration_rows = all_validation if censored_too else validation
    floor_column = "bucket_floor" if censored_too else "bucket"
    model = PaymentRiskModel(buckets=buckets, **model_params).fit(
        features,
        target,
        X_val=calibration_rows[list(FEATURE_NAMES)],
        y_val=calibration_rows[floor_column].to_numpy(dtype="int64"),
        y_val_exact=calibration_rows["bucket_known"].to_numpy(dtype=bool),
        days_late=train["days_late"],
    )
    return model, fit_baselines(train, validation, buckets)


def fit_baselines(
    train: pd.DataFrame, validation: pd.DataFrame, buckets: LateBuckets
) -> dict[str, Any]:
    """Every baseline, fitted on ``train`` rows with a known bucket (``validation`` too)."""
    return {
        name: factory(buckets=buckets).fit(
            train[list(FEATURE_NAMES)],
            train["bucket"].to_numpy(dtype="int64"),
            X_val=validation[list(FEATURE_NAMES)],
            y_val=validation["bucket"].to_numpy(dtype="int64"),
        )
        for name, factory in BASELINES.items()
    }


def _refit_and_score(
    frame: pd.DataFrame, plan: SplitPlan, settings: TrainingSettings, trees: int
) -> pd.DataFrame:
    """Test metrics at an earlier cutoff: refit with a fixed number of trees, no bootstrap."""
    config, buckets = split_config_from(settings), buckets_from(settings)
    splits = split_frame(frame.loc[frame["as_of"] <= plan.data_cutoff], plan, config, buckets)
    params = model_params_from(settings) | {"n_estimators": trees, "early_stopping_rounds": trees}
    model, baselines = fit_all(splits, buckets, params)
    quick = replace(evaluation_config_from(settings), bootstrap_rounds=0)
    return evaluate(model, baselines, splits["test"], buckets, quick, with_curves=False).metrics


def run_backtest(
    frame: pd.DataFrame | None,
    first_date: pd.Timestamp,
    main: tuple[pd.Timestamp, pd.DataFrame],
    settings: TrainingSettings,
    trees: int,
    refit: Callable[[SplitPlan, int], pd.DataFrame] | None = None,
) -> tuple[pd.DataFrame, list[str]]:
    """Metrics (slice ``all``) per backtest cutoff; the latest fold is the main evaluation.

    An earlier fold that cannot be split or fitted is left out with a warning: it must
    not sink the main model.
    """
    config = split_config_from(settings)
    cutoffs = backtest_cutoffs(
        first_date,
        main[0],
        config,
        folds=settings.backtest_folds,
        step_months=settings.backtest_step_months,
    )
    folds, warnings = [], []
    for fold, cutoff in enumerate(cutoffs):
        plan = plan_split(first_date, cutoff, config)
        try:
            if fold == 0:
                metrics = main[1]
            elif refit is not None:  # another engine's refit (training.engines.dask_training)
                metrics = refit(plan, trees)
            else:
                assert frame is not None
                metrics = _refit_and_score(frame, plan, settings, trees)
        except PayriskError as error:
            warnings.append(f"backtest fold {fold} (cutoff {cutoff.date()}) left out: {error}")
            continue
        metrics = metrics.loc[metrics["slice"] == "all"].drop(columns="slice")
        folds.append(
            metrics.assign(
                fold=fold, data_cutoff=cutoff, test_from=plan.test_start, test_to=plan.test_end
            )
        )
    if len(folds) < settings.backtest_folds:
        warnings.append(
            f"backtest: {len(folds)} of {settings.backtest_folds} cutoffs could be scored "
            f"(every {settings.backtest_step_months} months back from {main[0].date()})"
        )
    columns = ["fold", "data_cutoff", "test_from", "test_to", "scorer", "metric", "value"]
    return pd.concat(folds, ignore_index=True)[columns], warnings


def train(
    ledger: Ledger, settings: TrainingSettings, *, oracle: pd.DataFrame | None = None
) -> TrainingResult:
    """Train the model and baselines out of time, evaluate them, and backtest.

    ``oracle`` (generated ledgers only): ``invoice_id, p_late_true, p_over_30_true``,
    scored beside the model, never a feature. Raises ``NotEnoughHistory``,
    ``SingleClassSplit`` or ``CutoffOutsideData`` for a ledger that cannot be split.
    """
    # BLAS threads only hurt on these small matrices, and on a shared machine their
    # spin-waiting made the logistic baseline ~10x slower; LightGBM has its own n_jobs.
    with threadpool_limits(limits=1, user_api="blas"):
        return _train(ledger, settings, oracle)


def _train(
    ledger: Ledger, settings: TrainingSettings, oracle: pd.DataFrame | None
) -> TrainingResult:
    started = time.perf_counter()
    first_date, last_date = ledger_date_range(ledger)
    cutoff = data_cutoff_of(ledger, settings)
    # Fails fast (NotEnoughHistory) before the features are built.
    plan_split(first_date, cutoff, split_config_from(settings))
    frame = build_training_frame(ledger, settings, oracle=oracle, cutoff=cutoff)
    features_seconds = round(time.perf_counter() - started, 3)
    logger.info("train: features took %.1f s", features_seconds)
    return _train_on_frame(
        frame,
        settings,
        date_range=(first_date, last_date),
        cutoff=cutoff,
        fingerprint=ledger_fingerprint(ledger),
        durations={"features": features_seconds},
    )


def train_on_frame(
    frame: pd.DataFrame,
    settings: TrainingSettings,
    *,
    date_range: tuple[pd.Timestamp, pd.Timestamp],
    cutoff: pd.Timestamp,
    fingerprint: str,
    durations: dict[str, float] | None = None,
) -> TrainingResult:
    """``train`` from an already built training frame (``build_training_frame`` columns).

    For engines that build the frame elsewhere (``training.engines``): ``date_range`` is
    the ledger's first issue date and last fact date, ``cutoff`` the data cutoff the
    frame was labeled at, ``fingerprint`` the ledger's; ``durations`` seconds so far.
    """
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_on_frame(
            frame,
            settings,
            date_range=date_range,
            cutoff=cutoff,
            fingerprint=fingerprint,
            durations=dict(durations or {}),
        )


def _train_on_frame(
    frame: pd.DataFrame,
    settings: TrainingSettings,
    *,
    date_range: tuple[pd.Timestamp, pd.Timestamp],
    cutoff: pd.Timestamp,
    fingerprint: str,
    durations: dict[str, float],
) -> TrainingResult:
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        durations[stage] = round(time.perf_counter() - clock, 3)
        logger.info("train: %s took %.1f s", stage, durations[stage])
        clock = time.perf_counter()

    buckets, split_config = buckets_from(settings), split_config_from(settings)
    first_date, last_date = date_range
    plan = plan_split(first_date, cutoff, split_config)
    splits = split_frame(frame, plan, split_config, buckets)
    model, baselines = fit_all(splits, buckets, model_params_from(settings))
    lap("fit")
    evaluation = evaluate(
        model, baselines, splits["test"], buckets, evaluation_config_from(settings)
    )
    lap("evaluate")
    backtest, backtest_warnings = run_backtest(
        frame, first_date, (cutoff, evaluation.metrics), settings, model.best_iteration_
    )
    lap("backtest")
    return assemble_result(
        model,
        baselines,
        evaluation,
        (backtest, backtest_warnings),
        train_rows=splits["train"],
        test_rows=splits["test"],
        split_summary=split_summary(splits, plan),
        settings=settings,
        data=DataFacts(fingerprint, (first_date, last_date), cutoff),
        durations=durations,
    )
