"""train() end to end on generated ledgers: structure, the model beats aging, determinism."""

from __future__ import annotations

import pandas as pd
import pandas.testing as pdt

from features.registry import FEATURE_NAMES
from ledger.frames import Ledger
from ledger.synthetic import GeneratedLedger
from training.evaluate import GAP, ORACLE
from training.pipeline import ledger_fingerprint, train
from training.result import TrainingResult

from .conftest import fast_settings


def _value(result: TrainingResult, scorer: str, metric: str, slice_name: str = "all") -> float:
    metrics = result.metrics.set_index(["scorer", "slice", "metric"])["value"]
    return float(metrics[(scorer, slice_name, metric)])


def test_train_on_a_generated_ledger(generated_120x2: GeneratedLedger) -> None:
    result = train(generated_120x2.ledger, fast_settings(), oracle=generated_120x2.oracle)
    assert list(result.metrics.columns) == ["scorer", "slice", "metric", "value"]
    scorers = set(result.metrics["scorer"])
    assert scorers == {
        "model",
        "model_uncalibrated",
        "aging",
        "historical_late_ratio",
        "logistic",
        ORACLE,
        GAP,
    }
    assert {"all", "cold_start", "warm"} <= set(result.metrics["slice"])
    # the model ranks late payers better than today's aging order
    assert _value(result, "model", "roc_auc_late") > _value(result, "aging", "roc_auc_late") + 0.05
    low = _value(result, "model", "roc_auc_late_ci_low")
    assert (
        low
        < _value(result, "model", "roc_auc_late")
        < _value(result, "model", "roc_auc_late_ci_high")
    )
    assert _value(result, "model", "capture_at_20_daily") > 0
    # the backtest: 3 cutoffs 3 months apart, latest first, each scored for every scorer
    backtest = result.backtest
    cutoffs = sorted(backtest["data_cutoff"].unique(), reverse=True)
    assert len(cutoffs) == 3 and backtest["fold"].nunique() == 3
    assert (pd.Timestamp(cutoffs[0]) - pd.Timestamp(cutoffs[1])).days in (91, 92)
    assert set(backtest.loc[backtest["fold"] == 2, "scorer"]) >= {"model", "aging", ORACLE}
    summary = result.split_summary.set_index("split")
    assert list(summary.index) == ["train", "validation", "test"]
    assert summary.loc["train", "label_cutoff"] < summary.loc["validation", "as_of_from"]
    assert summary.loc["test", "as_of_to"] < result.data_cutoff
    assert set(result.curves) == {"roc", "calibration", "capture"}
    assert set(result.feature_importance["feature"]) == set(FEATURE_NAMES)
    assert list(result.input_example.columns) == list(FEATURE_NAMES)
    assert len(result.input_example) == 5
    assert len(result.data_fingerprint) == 64
    assert result.date_range[1] == result.data_cutoff
    assert result.params["model_best_iteration"] == result.model.best_iteration_
    assert len(result.feature_table) == len(FEATURE_NAMES)


def test_small_invoices_only_ledger_trains_says_how_sure_and_is_deterministic(
    small_paid_ledger: Ledger,
) -> None:
    assert small_paid_ledger.payments.empty and small_paid_ledger.activities.empty
    assert small_paid_ledger.invoices["paid_date"].notna().all()
    assert 2000 <= len(small_paid_ledger.invoices) <= 3000
    settings = fast_settings(small_sample_rows=5000)
    first = train(small_paid_ledger, settings)
    assert ORACLE not in set(first.metrics["scorer"])
    counts = first.metrics.query("scorer == 'model' and slice == 'all'").set_index("metric")
    assert counts.loc["n_late_known", "value"] < 5000
    assert counts.loc["roc_auc_late_ci_low", "value"] < counts.loc["roc_auc_late_ci_high", "value"]
    assert any("slice 'all': only" in warning for warning in first.warnings)
    second = train(small_paid_ledger, settings)
    pdt.assert_frame_equal(first.metrics, second.metrics)
    pdt.assert_frame_equal(first.backtest, second.backtest)
    assert (
        first.data_fingerprint == second.data_fingerprint == ledger_fingerprint(small_paid_ledger)
    )
