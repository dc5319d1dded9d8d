"""lightgbm.dask training of the dask engine: the early-stopping rule, and the model it gives.

The rule is checked against LightGBM's own early stopping on a local booster (no Dask);
the model against the pandas engine on the same small dataset, on a 2-worker
LocalCluster of threads.
"""

from __future__ import annotations

from datetime import date
from pathlib import Path

import lightgbm as lgb
import numpy as np
import pandas as pd
import pytest
from distributed import Client

from ledger.synthetic import GeneratorConfig
from models.estimator import PaymentRiskModel
from payrisk.settings import Settings
from training.engines import dask_fit
from training.engines.dask_fit import early_stopped_iteration
from training.engines.dask_training import train_dask
from training.engines.pandas import read_dataset, train_pandas

CONFIG = GeneratorConfig(customers=80, years=2, seed=3, chunk_customers=40, end=date(2026, 11, 30))
SETTINGS = Settings(
    dask_workers=2,
    dask_processes=False,
    snapshot_every_days=28,
    model_n_estimators=40,
    model_early_stopping_rounds=10,
    model_min_child_samples=20,
    model_learning_rate=0.1,
    model_n_jobs=1,
    bootstrap_rounds=0,
    backtest_folds=2,
    min_split_rows=20,
)
# On 80 customers the two engines' models differ a little (distributed LightGBM bins per
# worker); the demo ledger's figure is in docs/cluster.md. A broken encoding or early
# stopping would cost far more than this.
AUC_TOLERANCE = 0.02


def _multiclass(seed: int, rows: int) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(rows, 4))
    noisy = features[:, 0] + 0.5 * features[:, 1] + rng.normal(scale=1.5, size=rows)
    return features, np.digitize(noisy, [-1.0, 0.0, 1.0])


@pytest.mark.parametrize("patience", [3, 8])
def test_early_stopped_iteration_matches_lightgbm_early_stopping(patience: int) -> None:
    features, target = _multiclass(1, 1500)
    val_features, val_target = _multiclass(2, 600)
    params = {"objective": "multiclass", "num_class": 4, "learning_rate": 0.3, "verbose": -1}
    params |= {"deterministic": True, "num_threads": 1, "min_data_in_leaf": 5}
    train_set = lgb.Dataset(features, label=target)
    valid_set = lgb.Dataset(val_features, label=val_target, reference=train_set)
    stopped = lgb.train(
        params,
        train_set,
        num_boost_round=200,
        valid_sets=[valid_set],
        callbacks=[lgb.early_stopping(patience, verbose=False)],
    )
    assert stopped.best_iteration + patience < 200  # it did stop early
    full = lgb.train(params, train_set, num_boost_round=200)
    found = early_stopped_iteration(full, val_features, val_target, patience, 4)
    assert found == stopped.best_iteration
    assert early_stopped_iteration(full, val_features, val_target, 0, 4) == 200


def _model_metric(metrics: pd.DataFrame, name: str) -> float:
    chosen = (metrics["scorer"] == "model") & (metrics["slice"] == "all")
    return float(metrics.loc[chosen & (metrics["metric"] == name), "value"].iloc[0])


def test_lightgbm_dask_model_is_ordinary_and_close_to_the_pandas_engine(
    dataset: Path, client: Client
) -> None:
    by_dask = train_dask(str(dataset), SETTINGS, client)
    ledger, oracle = read_dataset(str(dataset))
    by_pandas = train_pandas(ledger, SETTINGS, oracle)

    model = by_dask.model
    assert type(model) is PaymentRiskModel and isinstance(model.booster_, lgb.Booster)
    assert model.booster_.current_iteration() == SETTINGS.model_n_estimators
    assert 1 <= model.best_iteration_ <= SETTINGS.model_n_estimators
    assert by_dask.params["engine_trainer"] == "lightgbm.dask"
    for metric in ("roc_auc_late", "roc_auc_over_30"):
        dask_auc = _model_metric(by_dask.metrics, metric)
        pandas_auc = _model_metric(by_pandas.metrics, metric)
        assert abs(dask_auc - pandas_auc) < AUC_TOLERANCE, (metric, dask_auc, pandas_auc)
    # Same splits, summed over partitions on the cluster.
    columns = ["split", "rows", "invoices", "rows_bucket_known", "rows_late_known"]
    pd.testing.assert_frame_equal(by_dask.split_summary[columns], by_pandas.split_summary[columns])
    assert set(by_dask.backtest["fold"]) == set(by_pandas.backtest["fold"]) == {0, 1}
    proba = model.predict_proba(by_dask.input_example)
    assert proba.shape == (len(by_dask.input_example), model.buckets.n_classes)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)


def test_boosting_in_batches_continues_until_the_stopping_rule_decides(
    dataset: Path, client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    # lightgbm.dask itself varies a little from run to run (which worker gets which
    # partitions sets its bins), so the batched model is compared on its test AUC.
    settings = SETTINGS.model_copy(update={"backtest_folds": 1})
    one_fit = train_dask(str(dataset), settings, client)
    monkeypatch.setattr(dask_fit, "ROUNDS_PER_FIT", 7)
    batches = train_dask(str(dataset), settings, client)
    model, patience = batches.model, settings.model_early_stopping_rounds
    trained = model.booster_.current_iteration()
    assert trained > 7  # several fits, each continuing the last
    assert trained == settings.model_n_estimators or trained - model.best_iteration_ >= patience
    assert trained - model.best_iteration_ < patience + 7  # and no batch more than needed
    for metric in ("roc_auc_late", "roc_auc_over_30"):
        batched, single = (_model_metric(r.metrics, metric) for r in (batches, one_fit))
        assert abs(batched - single) < AUC_TOLERANCE, (metric, batched, single)
