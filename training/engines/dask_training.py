"""``train`` for the dask engine: features and the model's training period on the cluster.

The training frame (``training.engines.dask.training_frame_graph``) is persisted on the
workers. The training period stays there and ``lightgbm.dask`` fits the model on it
(``dask_fit.fit_dask``); the validation and test periods, much smaller, are collected:
calibration, evaluation and MLflow logging run here, single-node, with the pandas
engine's own functions. The backtest refits the same way at each earlier cutoff.

Baselines (aging, historical late ratio, logistic regression) and the drift reference
fit on the training period's rows collected here -- a seeded sample of at most
``BASELINE_MAX_ROWS`` rows when it is larger (none on ledgers up to a few million
invoices): they are yardsticks, and a logistic regression on more rows changes little.
"""

from __future__ import annotations

import time
from dataclasses import replace
from typing import TYPE_CHECKING, Any

import pandas as pd
from threadpoolctl import threadpool_limits

from training.configs import evaluation_config_from, model_params_from, split_config_from
from training.dataset import TrainingSettings, buckets_from
from training.engines.dask import collect_sorted, data_cutoff, load_dataset, training_frame_graph
from training.engines.dask_fit import fit_dask
from training.evaluate import evaluate
from training.pipeline import fit_baselines, run_backtest
from training.result import DataFacts, TrainingResult, assemble_result
from training.split import (
    NotEnoughHistory,
    SingleClassSplit,
    SplitPlan,
    censored_rows,
    check_split,
    plan_split,
    split_summary,
)

if TYPE_CHECKING:
    import dask.dataframe as dd
    from distributed import Client

    from models.estimator import PaymentRiskModel

BASELINE_MAX_ROWS = 2_000_000
LOCAL_SPLITS = ("validation", "test")


def _period(
    part: pd.DataFrame, plan: SplitPlan, name: str, settings: TrainingSettings
) -> pd.DataFrame:
    """The rows of split ``name`` in one partition, labels censored at its label cutoff."""
    first, last = plan.bounds(name)
    rows = part.loc[part["as_of"].between(first, last)]
    return censored_rows(rows, plan.label_cutoff(name), buckets_from(settings))


class DaskSplits:
    """The split of one cutoff: ``train`` on the cluster, validation and test collected."""

    def __init__(
        self, frame: dd.DataFrame, plan: SplitPlan, settings: TrainingSettings, client: Client
    ) -> None:
        self.plan, self.settings, self.client = plan, settings, client
        self.train = client.persist(
            frame.map_partitions(_period, plan=plan, name="train", settings=settings)
        )
        local_from = plan.bounds("validation")[0]
        recent = collect_sorted(frame.loc[frame["as_of"] >= local_from], client)
        self.local = {name: _period(recent, plan, name, settings) for name in LOCAL_SPLITS}
        self._check_train()
        for name in LOCAL_SPLITS:
            check_split(name, self.local[name], plan, split_config_from(settings))

    def _check_train(self) -> None:
        """The training period's checks of ``split_frame``, on one line per partition."""
        meta = _summary_line(self.train._meta, self.plan)
        summaries = self.train.map_partitions(_summary_line, plan=self.plan, meta=meta)
        lines = self.client.compute(summaries).result()
        labeled = int(lines["rows_bucket_known"].sum())
        config = split_config_from(self.settings)
        if labeled < config.min_split_rows:
            first, last = self.plan.bounds("train")
            raise NotEnoughHistory(
                f"the train split (as-of {first.date()} to {last.date()}) has {labeled} labeled "
                f"rows; at least {config.min_split_rows} are needed"
            )
        self.train_summary = _combine_summaries(lines)
        late_share = float(self.train_summary["late_share"].iloc[0])
        if late_share in (0.0, 1.0):
            only = "late" if late_share == 1.0 else "on time"
            raise SingleClassSplit(
                f"every labeled row of the train split is {only}; a model cannot learn a "
                "single class: check the paid and due dates"
            )

    def train_sample(self) -> pd.DataFrame:
        """The training period collected (rows in the pandas engine's order), sampled if large."""
        rows = self.train
        total = int(self.train_summary["rows"].iloc[0])
        if total > BASELINE_MAX_ROWS:
            fraction = BASELINE_MAX_ROWS / total
            rows = rows.sample(frac=fraction, random_state=self.settings.random_seed)
        return collect_sorted(rows, self.client)

    def summary(self) -> pd.DataFrame:
        """``split_summary`` of the three splits (train summed over partitions)."""
        local = split_summary(self.local, self.plan)
        return pd.concat([self.train_summary, local], ignore_index=True)


def _summary_line(part: pd.DataFrame, plan: SplitPlan) -> pd.DataFrame:
    """``split_summary`` of one partition's training rows."""
    return split_summary({"train": part}, plan)


def _combine_summaries(lines: pd.DataFrame) -> pd.DataFrame:
    """One ``split_summary`` line from per-partition lines (partitions hold whole invoices)."""
    first = lines.iloc[[0]].reset_index(drop=True)
    for column in (
        "rows",
        "invoices",
        "rows_bucket_known",
        "rows_late_known",
        "rows_over_30_known",
    ):
        first[column] = int(lines[column].sum())
    weights = lines["rows_late_known"]
    late = (lines["late_share"].fillna(0) * weights).sum() / weights.sum()
    first["late_share"] = float(late) if weights.sum() else float("nan")
    return first


def fit_fold(
    splits: DaskSplits, settings: TrainingSettings, params: dict[str, Any]
) -> tuple[PaymentRiskModel, dict[str, Any], pd.DataFrame]:
    """The model (lightgbm.dask), the baselines, and the collected training rows they used."""
    buckets = buckets_from(settings)
    model = fit_dask(splits.train, splits.local["validation"], buckets, params, splits.client)
    sample = splits.train_sample()
    validation = splits.local["validation"]
    baselines = fit_baselines(
        sample.loc[sample["bucket_known"]], validation.loc[validation["bucket_known"]], buckets
    )
    return model, baselines, sample


def _refit(frame: dd.DataFrame, settings: TrainingSettings, client: Client) -> Any:
    """The backtest's refit at an earlier cutoff: fixed trees, no bootstrap (as the pandas one)."""

    def refit(plan: SplitPlan, trees: int) -> pd.DataFrame:
        earlier = frame.loc[frame["as_of"] <= plan.data_cutoff]
        splits = DaskSplits(earlier, plan, settings, client)
        params = model_params_from(settings) | {
            "n_estimators": trees,
            "early_stopping_rounds": trees,
        }
        model, baselines, _ = fit_fold(splits, settings, params)
        quick = replace(evaluation_config_from(settings), bootstrap_rounds=0)
        test = splits.local["test"]
        return evaluate(
            model, baselines, test, buckets_from(settings), quick, with_curves=False
        ).metrics

    return refit


def train_dask(url: str, settings: TrainingSettings, client: Client) -> TrainingResult:
    """``training.pipeline.train`` on the dataset at ``url``, the heavy parts on the cluster."""
    # As ``train``: BLAS threads only slow the logistic baseline down (see there).
    with threadpool_limits(limits=1, user_api="blas"):
        return _train_dask(url, settings, client)


def _train_dask(url: str, settings: TrainingSettings, client: Client) -> TrainingResult:
    durations: dict[str, float] = {}
    clock = time.perf_counter()

    def lap(stage: str) -> None:
        nonlocal clock
        durations[stage] = round(time.perf_counter() - clock, 3)
        clock = time.perf_counter()

    frames, facts = load_dataset(url, client)
    cutoff = data_cutoff(facts, settings)
    plan = plan_split(facts.first_date, cutoff, split_config_from(settings))  # fail fast
    frame = client.persist(training_frame_graph(frames, settings, facts, cutoff))
    client.compute(frame.map_partitions(len)).result()  # wait for the persisted partitions
    lap("features")
    splits = DaskSplits(frame, plan, settings, client)
    model, baselines, train_rows = fit_fold(splits, settings, model_params_from(settings))
    lap("fit")
    buckets, test = buckets_from(settings), splits.local["test"]
    evaluation = evaluate(model, baselines, test, buckets, evaluation_config_from(settings))
    lap("evaluate")
    backtest = run_backtest(
        None,
        facts.first_date,
        (cutoff, evaluation.metrics),
        settings,
        model.best_iteration_,
        refit=_refit(frame, settings, client),
    )
    lap("backtest")
    return assemble_result(
        model,
        baselines,
        evaluation,
        backtest,
        train_rows=train_rows,
        test_rows=test,
        split_summary=splits.summary(),
        settings=settings,
        data=DataFacts(facts.fingerprint, (facts.first_date, facts.last_date), cutoff),
        durations=durations,
        extra_params={"engine_trainer": "lightgbm.dask"},
    )
