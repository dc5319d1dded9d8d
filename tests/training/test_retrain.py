"""`payrisk retrain`: rolling-window challenger, the gate on the same test rows, the record.

One generated ledger (60 customers, 3 years) and one MLflow store for the module. A
model trained on a tiny window (8 months of as-of dates: one month of training rows)
is worse than one trained on all 36 months on the same latest test period; that is how
the tests get a better and a worse challenger without touching the data:

1. window 8, no champion yet -> ``first`` (v1 becomes champion)
2. window 36 -> better than v1 -> ``promoted`` (v2)
3. window 8 again -> worse than v2 -> ``refused`` (v3 stays challenger)
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from ledger.frames import Ledger
from ledger.importer import LedgerSources, read_ledger
from ledger.synthetic import GeneratorConfig, generate_ledger, write_generated
from models.registry import CHALLENGER_ALIAS, aliases_of, open_registry, promote, register
from payrisk.cli import app
from payrisk.commands import _common
from payrisk.settings import Settings
from tests.conftest import fast_training_settings
from training.retrain import NoMaturedOutcomes, RetrainError, RetrainOutcome, retrain
from training.retrain_record import history
from training.split import NotEnoughHistory

pytestmark = pytest.mark.slow

TINY, FULL = 8, 36
# Short periods so that an 8-month window still splits: 1 month to train, 2 to
# validate, 2 to test, three 30-day maturity gaps.
SPLIT = {
    "min_train_months": 1,
    "validation_months": 2,
    "test_months": 2,
    "label_maturity_days": 30,
}


@dataclass(frozen=True)
class Lifecycle:
    settings: Settings
    ledger: Ledger
    ledger_dir: Path
    outcomes: list[RetrainOutcome]

    def client(self) -> MlflowClient:
        return open_registry(self.settings.resolved_tracking_uri)


@pytest.fixture(scope="module")
def lifecycle(tmp_path_factory: pytest.TempPathFactory) -> Lifecycle:
    """The three retrains above, on a ledger read back from files (as the CLI reads it)."""
    folder = tmp_path_factory.mktemp("retrain")
    config = GeneratorConfig(customers=60, years=3, seed=3, end=date(2026, 11, 30))
    ledger_dir = folder / "ledger"
    write_generated(generate_ledger(config), ledger_dir)
    ledger = read_ledger(LedgerSources(directory=ledger_dir)).ledger
    settings = fast_training_settings(folder / "data").model_copy(update=SPLIT)
    settings.ensure_data_dir()
    outcomes = [retrain(ledger, settings, window_months=months) for months in (TINY, FULL, TINY)]
    return Lifecycle(settings, ledger, ledger_dir, outcomes)


def test_without_a_champion_the_first_challenger_becomes_champion(lifecycle: Lifecycle) -> None:
    first = lifecycle.outcomes[0]
    assert (first.decision, first.champion_before, first.champion_after) == ("first", None, "1")
    assert first.champion_metrics == {}
    assert "no champion yet" in first.reason


def test_a_better_challenger_is_promoted_on_the_same_test_rows(lifecycle: Lifecycle) -> None:
    first, better, _ = lifecycle.outcomes
    assert (better.decision, better.champion_before, better.champion_after) == (
        "promoted",
        "1",
        "2",
    )
    challenger, champion = better.challenger_metrics, better.champion_metrics
    assert (
        challenger["roc_auc_late"] > champion["roc_auc_late"] + lifecycle.settings.promotion_margin
    )
    assert (
        challenger["brier_late"]
        <= champion["brier_late"] + lifecycle.settings.retrain_brier_tolerance
    )
    # v1 scored again as champion on the same period gives what it scored as challenger
    assert champion == pytest.approx(first.challenger_metrics)
    assert challenger["n_late_known"] == champion["n_late_known"] > 0
    assert aliases_of(lifecycle.client(), "payment-risk")["champion"] == "2"


def test_a_worse_challenger_is_refused_and_the_champion_stays(lifecycle: Lifecycle) -> None:
    _, better, worse = lifecycle.outcomes
    assert (worse.decision, worse.challenger_version, worse.champion_after) == ("refused", "3", "2")
    assert worse.challenger_metrics["roc_auc_late"] < worse.champion_metrics["roc_auc_late"]
    assert worse.champion_metrics == pytest.approx(better.challenger_metrics)
    assert aliases_of(lifecycle.client(), "payment-risk") == {
        "champion": "2",
        CHALLENGER_ALIAS: "3",
    }


def test_each_decision_is_tagged_on_the_version_and_the_run(lifecycle: Lifecycle) -> None:
    client = lifecycle.client()
    worse = lifecycle.outcomes[2]
    version = client.get_model_version("payment-risk", "3")
    assert version.tags["promotion.decision"] == "refused"
    assert version.tags["promotion.champion_before"] == "2"
    run_tags = client.get_run(str(version.run_id)).data.tags
    assert run_tags["retrain.decision"] == "refused"
    assert run_tags["retrain.window_months"] == str(TINY)
    assert run_tags["payrisk.retrain_record_run_id"] == worse.record_run_id
    assert worse.reason in run_tags["retrain.reason"]


def test_history_lists_every_decision_newest_first(lifecycle: Lifecycle) -> None:
    table = history(lifecycle.client(), lifecycle.settings)
    assert list(table["decision"]) == ["refused", "promoted", "first"]
    assert list(table["challenger"]) == ["3", "2", "1"]
    assert list(table["champion_after"]) == ["2", "2", "1"]
    refused = table.iloc[0]
    worse = lifecycle.outcomes[2]
    assert refused["challenger_roc_auc_late"] == pytest.approx(
        worse.challenger_metrics["roc_auc_late"]
    )
    assert refused["champion_brier_late"] == pytest.approx(worse.champion_metrics["brier_late"])


def test_a_second_run_on_the_same_data_does_nothing(lifecycle: Lifecycle) -> None:
    client = lifecycle.client()
    versions_before = len(client.search_model_versions("name='payment-risk'"))
    for months in (TINY, FULL):
        again = retrain(lifecycle.ledger, lifecycle.settings, window_months=months)
        assert (again.decision, again.challenger_version, again.champion_after) == (
            "skipped",
            None,
            "2",
        )
        assert "nothing to do" in again.reason
    assert len(client.search_model_versions("name='payment-risk'")) == versions_before
    assert len(history(client, lifecycle.settings)) == 3


@pytest.fixture
def cli_env(lifecycle: Lifecycle, monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    monkeypatch.setenv("PAYRISK_DATA_DIR", str(lifecycle.settings.data_dir))
    monkeypatch.delenv("PAYRISK_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(_common.console, "_width", 200)
    monkeypatch.setattr(_common.err_console, "_width", 200)
    yield


def test_cli_says_there_is_nothing_to_do_and_shows_the_history(
    lifecycle: Lifecycle, cli_env: None
) -> None:
    runner = CliRunner()
    again = runner.invoke(
        app, ["retrain", "--ledger", str(lifecycle.ledger_dir), "--window-months", str(FULL)]
    )
    shown = runner.invoke(app, ["retrain", "--history"])

    assert again.exit_code == 0, again.output
    assert "skipped: nothing to do" in again.output
    assert "champion: v2 (was v2)" in again.output
    assert shown.exit_code == 0, shown.output
    table = shown.output.split("(newest first)", 1)[1]
    decisions = re.findall(r"\b(refused|promoted|first)\b", table)
    assert decisions == ["refused", "promoted", "first"]


def test_a_window_too_short_to_split_is_refused_before_anything_is_trained(
    lifecycle: Lifecycle,
) -> None:
    client = lifecycle.client()
    versions_before = len(client.search_model_versions("name='payment-risk'"))
    with pytest.raises(
        NotEnoughHistory, match=r"retraining window \(4 months, .*too short.*months"
    ):
        retrain(lifecycle.ledger, lifecycle.settings, window_months=4)
    assert len(client.search_model_versions("name='payment-risk'")) == versions_before


def test_a_window_without_matured_outcomes_is_refused(lifecycle: Lifecycle) -> None:
    """Every invoice is open and due long after the data ends: no outcome is known."""
    issue_dates = pd.date_range("2025-01-01", "2026-11-30", freq="7D")
    customers = pd.DataFrame({"customer_id": ["c1", "c2"]})
    invoices = pd.DataFrame(
        {
            "invoice_id": [f"i{n}" for n in range(2 * len(issue_dates))],
            "customer_id": ["c1", "c2"] * len(issue_dates),
            "issue_date": issue_dates.repeat(2),
            "due_date": pd.Timestamp("2027-12-31"),
            "amount": 100.0,
        }
    )
    ledger = Ledger.from_frames(customers=customers, invoices=invoices)
    client = lifecycle.client()
    versions_before = len(client.search_model_versions("name='payment-risk'"))
    with pytest.raises(NoMaturedOutcomes, match=r"none has a matured outcome"):
        retrain(ledger, lifecycle.settings, window_months=12)
    assert len(client.search_model_versions("name='payment-risk'")) == versions_before


def test_the_gate_refuses_a_challenger_whose_calibration_is_worse_beyond_tolerance(
    lifecycle: Lifecycle, tmp_path: Path
) -> None:
    client = lifecycle.client()  # another model name in the module's store
    for n in (1, 2):
        register(client, (tmp_path / f"model-{n}").as_uri(), "brier-guard")
    client.set_registered_model_alias("brier-guard", "champion", "1")
    client.set_registered_model_alias("brier-guard", CHALLENGER_ALIAS, "2")
    metrics = {
        "1": {"roc_auc_late": 0.70, "brier_late": 0.180},
        "2": {"roc_auc_late": 0.75, "brier_late": 0.200},
    }

    def evaluate(uri: str) -> dict[str, float]:
        return metrics[uri.rsplit("/", 1)[1]]

    strict = promote(client, "brier-guard", evaluate=evaluate, brier_tolerance=0.01)
    lenient = promote(client, "brier-guard", evaluate=evaluate, brier_tolerance=0.05)

    assert (strict.decision, strict.champion_after) == ("refused", "1")
    assert "calibration is worse beyond the tolerance" in strict.reason
    assert "0.2000 vs champion 0.1800" in strict.reason
    assert (lenient.decision, lenient.champion_after) == ("promoted", "2")


def test_a_champion_that_cannot_be_loaded_stops_the_gate_with_a_clear_error(
    lifecycle: Lifecycle, tmp_path: Path
) -> None:
    """The champion's files are gone: the challenger stays registered, nothing is promoted."""
    client = lifecycle.client()
    name = "orphaned-champion"
    register(client, (tmp_path / "deleted-model").as_uri(), name)
    client.set_registered_model_alias(name, "champion", "1")
    settings = lifecycle.settings.model_copy(update={"registered_model_name": name})

    with pytest.raises(RetrainError, match=r"challenger v2 is registered .*champion v1 cannot be"):
        retrain(lifecycle.ledger, settings, window_months=TINY)
    assert aliases_of(client, name) == {"champion": "1", CHALLENGER_ALIAS: "2"}
    assert history(client, settings).empty
