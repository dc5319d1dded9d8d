"""The model card: made at registration, again on demand, from what the run logged."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from mlflow import MlflowClient
from typer.testing import CliRunner

from features.registry import FEATURE_NAMES
from models.registry import open_registry, register
from payrisk.cli import app
from payrisk.commands import _common
from training.model_card import CARD_FOLDER, publish_model_card

NAME = "payment-risk"


@pytest.fixture(scope="module")
def tiny(
    tmp_path_factory: pytest.TempPathFactory, train_tiny_champion: Callable[[Path], Any]
) -> Any:
    """A tiny model trained, logged and registered (v1) in a store of this module."""
    data_dir = tmp_path_factory.mktemp("card")
    return train_tiny_champion(data_dir)


def _client(tiny: Any) -> MlflowClient:
    return open_registry(tiny.settings.resolved_tracking_uri)


def _logged_card(client: MlflowClient, run_id: str, tmp_path: Path) -> tuple[str, str]:
    folder = Path(client.download_artifacts(run_id, CARD_FOLDER, str(tmp_path)))
    return (
        (folder / "model_card.md").read_text(encoding="utf-8"),
        (folder / "model_card.html").read_text(encoding="utf-8"),
    )


def test_registration_logs_a_card_with_every_section(tiny: Any, tmp_path: Path) -> None:
    client = _client(tiny)
    markdown, page = _logged_card(client, tiny.run_id, tmp_path)
    params = client.get_run(tiny.run_id).data.params
    metrics = client.get_run(tiny.run_id).data.metrics

    assert markdown.startswith(f"# Model card: {NAME} v{tiny.version}\n")
    for heading in (
        "Intended use",
        "Data",
        "Features",
        "Metrics on the test period",
        "Slices",
        "Calibration",
        "Known limitations",
    ):
        assert f"## {heading}" in markdown
        assert f"<h2>{heading}" in page
    assert f"from {params['data_first_date']} to {params['data_last_date']}" in markdown
    assert f"| test | {params['test_as_of_from']} | {params['test_as_of_to']} |" in markdown
    assert f"| {params['test_rows']} | {params['test_rows_labeled']} |" in markdown
    assert all(f"| {feature} |" in markdown for feature in FEATURE_NAMES)
    # the model beside the baselines, with the logged test metrics
    model_row = next(line for line in markdown.splitlines() if line.startswith("| model | "))
    assert f"| {metrics['test.model.roc_auc_late']:.3f} |" in model_row
    assert "| aging |" in markdown and "| logistic |" in markdown
    assert "| oracle |" not in markdown  # trained without the generator's oracle


def test_the_card_has_a_slice_per_segment_country_currency_and_cold_start(
    tiny: Any, tmp_path: Path
) -> None:
    markdown, _ = _logged_card(_client(tiny), tiny.run_id, tmp_path)
    slices = markdown.split("## Slices", 1)[1].split("## Calibration", 1)[0]
    slice_lines = [line for line in slices.splitlines() if line.startswith("| segment |")]
    segments = {line.split("|")[2].strip() for line in slice_lines}
    customers = tiny.ledger.customers
    assert segments <= set(customers["segment"].dropna()) and segments
    assert "| country |" in slices and "| currency |" in slices
    assert "| cold_start | warm | model |" in slices
    calibration = markdown.split("## Calibration", 1)[1]
    brier = _client(tiny).get_run(tiny.run_id).data.metrics["test.model.brier_late"]
    assert f"| model | {brier:.3f} |" in calibration


def test_on_demand_through_the_cli_and_an_unknown_version(
    tiny: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PAYRISK_DATA_DIR", str(tiny.settings.data_dir))
    monkeypatch.delenv("PAYRISK_MLFLOW_TRACKING_URI", raising=False)
    monkeypatch.setattr(_common.console, "_width", 200)
    monkeypatch.setattr(_common.err_console, "_width", 200)
    runner = CliRunner()
    made = runner.invoke(app, ["model-card", "--version", tiny.version, "--out", str(tmp_path)])
    missing = runner.invoke(app, ["model-card", "--version", "99"])

    assert made.exit_code == 0, made.output
    assert f"runs:/{tiny.run_id}/{CARD_FOLDER}" in made.output
    written = (tmp_path / "model_card.md").read_text(encoding="utf-8")
    logged, _ = _logged_card(_client(tiny), tiny.run_id, tmp_path / "logged")
    assert written == logged
    assert (tmp_path / "model_card.html").read_text(encoding="utf-8").startswith("<!doctype html>")
    assert missing.exit_code == 1
    assert "has no version '99'" in missing.output


def test_an_older_run_gets_a_card_that_names_what_is_missing_and_shows_the_oracle(
    tiny: Any, tmp_path: Path
) -> None:
    """A run with a metrics table (oracle included) and no slices, as older versions have."""
    client = _client(tiny)
    experiment_id = client.get_run(tiny.run_id).info.experiment_id
    run_id = client.create_run(experiment_id).info.run_id
    client.log_param(run_id, "data_first_date", "2024-01-01")
    tables = tmp_path / "tables"
    tables.mkdir()
    rows = [
        (scorer, slice_name, metric, auc if metric == "roc_auc_late" else 5000.0)
        for scorer, auc in (("model", 0.7), ("aging", 0.6), ("oracle", 0.8))
        for slice_name in ("all", "cold_start", "warm")
        for metric in ("roc_auc_late", "n_late_known")
    ]
    pd.DataFrame(rows, columns=["scorer", "slice", "metric", "value"]).to_csv(
        tables / "metrics_test.csv", index=False
    )
    client.log_artifacts(run_id, str(tables), "tables")
    client.set_terminated(run_id)
    name = "card-older"
    version = register(client, (tmp_path / "model").as_uri(), name, run_id=run_id)
    settings = tiny.settings.model_copy(update={"registered_model_name": name})

    card = publish_model_card(client, settings, version)

    assert "| oracle | 0.800 |" in card.markdown
    assert "and the oracle (the generator's true probabilities)" in card.markdown
    assert "Slices by segment, country and currency were not logged" in card.markdown
    assert card.markdown.split("## Slices", 1)[1].count("_Not logged for this version._") >= 1
    assert "labeled rows" not in card.markdown  # 5000 labeled rows: no small-sample note
    assert "<td>oracle</td><td>0.800</td>" in card.html
