"""The model card of a registered version: Markdown and HTML, logged to the version's run.

Built only from what the run logged (params, metrics, ``tables/*.csv``), so the card of
an older version can be made on demand (``payrisk model-card --version N``) exactly like
the one ``payrisk train`` makes at registration. Sections: intended use, data period and
size, features, metrics beside the baselines and the oracle (generated ledgers only),
slices (segment, country, currency, cold start), calibration, known limitations. A table
the run does not have (e.g. slices of a version trained before they existed) is named
as missing in the card rather than invented.
"""

from __future__ import annotations

import base64
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pandas as pd
from jinja2 import Environment, FileSystemLoader, StrictUndefined
from mlflow import MlflowClient

from models.registry import get_version
from training.plots import headline_table

CARD_FOLDER = "model_card"
SLICES_FILE = "slices.csv"
TEMPLATES = Path(__file__).parent / "templates"
_TABLES = ("metrics_test.csv", "features.csv", SLICES_FILE)
_SPLITS = ("train", "validation", "test")
# Below this many labeled test rows a metric moves by several points between samples.
SMALL_TEST_ROWS = 2000
COLD_START_GAP = 0.03  # ROC AUC the cold-start slice may trail the warm one before we say so


class CardSettings(Protocol):
    """What the card reads from ``payrisk.settings.Settings``."""

    registered_model_name: str


@dataclass(frozen=True)
class ModelCard:
    """A rendered card: where it was logged, and its two texts."""

    artifact_uri: str
    markdown: str
    html: str


def _number(value: Any, digits: int = 3) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "—"
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return str(value)


def _records(frame: pd.DataFrame | None) -> list[dict[str, str]]:
    """Rows of ``frame`` with every value formatted for people (index included)."""
    if frame is None:
        return []
    data = frame.reset_index() if frame.index.name else frame
    return [
        {str(k): _number(v, 0 if str(k).startswith("n_") else 3) for k, v in row.items()}
        for row in data.to_dict("records")
    ]


def _read_tables(client: MlflowClient, run_id: str, folder: Path) -> dict[str, pd.DataFrame]:
    """The run's ``tables/`` CSVs the card uses (absent ones are left out)."""
    logged = {Path(item.path).name for item in client.list_artifacts(run_id, "tables")}
    tables = {}
    for name in _TABLES:
        if name in logged:
            path = client.download_artifacts(run_id, f"tables/{name}", str(folder))
            tables[name] = pd.read_csv(path)
    return tables


def _calibration_png(client: MlflowClient, run_id: str, folder: Path) -> str | None:
    """The run's calibration plot as a base64 PNG for the HTML card, if it was logged."""
    logged = {Path(item.path).name for item in client.list_artifacts(run_id, "plots")}
    if "calibration.png" not in logged:
        return None
    path = client.download_artifacts(run_id, "plots/calibration.png", str(folder))
    return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _data_section(params: dict[str, str]) -> dict[str, Any]:
    splits = [
        {
            "split": split,
            "as_of_from": params.get(f"{split}_as_of_from", "—"),
            "as_of_to": params.get(f"{split}_as_of_to", "—"),
            "rows": params.get(f"{split}_rows", "—"),
            "labeled": params.get(f"{split}_rows_labeled", "—"),
        }
        for split in _SPLITS
    ]
    return {
        "first_date": params.get("data_first_date", "—"),
        "last_date": params.get("data_last_date", "—"),
        "cutoff": params.get("data_cutoff", "—"),
        "fingerprint": params.get("data_fingerprint", "—"),
        "splits": splits,
    }


def _calibration_rows(metrics: pd.DataFrame) -> list[dict[str, str]]:
    """Brier and ECE of the calibrated and the raw model (slice ``all``)."""
    wanted = (
        "brier_late",
        "ece_late",
        "brier_over_30",
        "ece_over_30",
        "brier_ordinal",
        "brier_multiclass",
    )
    rows = metrics.loc[
        (metrics["slice"] == "all")
        & metrics["scorer"].isin(["model", "model_uncalibrated"])
        & metrics["metric"].isin(wanted)
    ]
    wide = rows.pivot_table(index="scorer", columns="metric", values="value")
    wide = wide.reindex(columns=[m for m in wanted if m in wide.columns])
    wide.index.name = "scorer"
    return _records(wide)


def _metric(metrics: pd.DataFrame, scorer: str, slice_name: str, metric: str) -> float:
    hit = metrics.loc[
        (metrics["scorer"] == scorer)
        & (metrics["slice"] == slice_name)
        & (metrics["metric"] == metric),
        "value",
    ]
    return float(hit.iloc[0]) if len(hit) else math.nan


def _limitations(metrics: pd.DataFrame | None, has_slices: bool) -> list[str]:
    """What the numbers say to be careful about, beside the standing limitations."""
    notes = []
    if metrics is not None:
        labeled = _metric(metrics, "model", "all", "n_late_known")
        if labeled < SMALL_TEST_ROWS:
            notes.append(
                f"The test period has only {_number(labeled, 0)} labeled rows: the metrics "
                "are rough (several points either way)."
            )
        cold = _metric(metrics, "model", "cold_start", "roc_auc_late")
        warm = _metric(metrics, "model", "warm", "roc_auc_late")
        if cold + COLD_START_GAP < warm:
            notes.append(
                f"Customers with little history (cold start) are ranked worse: ROC AUC of "
                f"P(late) {_number(cold)} against {_number(warm)} for the others."
            )
    if not has_slices:
        notes.append("Slices by segment, country and currency were not logged for this version.")
    return notes


def _feature_columns(features: pd.DataFrame | None) -> pd.DataFrame | None:
    """The feature table's name, unit and description (those it has)."""
    if features is None:
        return None
    return features[[c for c in ("name", "unit", "description") if c in features.columns]]


def card_context(client: MlflowClient, settings: CardSettings, version: str) -> dict[str, Any]:
    """Everything the templates show, read from the version and its run."""
    name = settings.registered_model_name
    registered = get_version(client, name, version)
    run = client.get_run(str(registered.run_id))
    params = dict(run.data.params)
    with tempfile.TemporaryDirectory(prefix="payrisk-card-") as folder:
        tables = _read_tables(client, run.info.run_id, Path(folder))
        calibration_png = _calibration_png(client, run.info.run_id, Path(folder))
    metrics = tables.get("metrics_test.csv")
    features = tables.get("features.csv")
    slices = tables.get(SLICES_FILE)
    return {
        "name": name,
        "version": str(version),
        "run_id": run.info.run_id,
        "aliases": sorted(registered.aliases or []),
        "feature_code_version": params.get("feature_code_version", "—"),
        "data": _data_section(params),
        "features": _records(_feature_columns(features)),
        "metrics": {
            slice_name: _records(headline_table(metrics, slice_name))
            for slice_name in ("all", "cold_start", "warm")
        }
        if metrics is not None
        else {},
        "has_oracle": metrics is not None and bool((metrics["scorer"] == "oracle").any()),
        "slices": _records(slices),
        "calibration": _calibration_rows(metrics) if metrics is not None else [],
        "calibration_png": calibration_png,
        "limitations": _limitations(metrics, slices is not None),
    }


def _environment(autoescape: bool) -> Environment:
    environment = Environment(
        loader=FileSystemLoader(TEMPLATES),
        autoescape=autoescape,
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    environment.filters["cell"] = lambda text: str(text).replace("|", "\\|").replace("\n", " ")
    return environment


def render_card(context: dict[str, Any]) -> tuple[str, str]:
    """(Markdown, HTML) of a card context."""
    markdown = _environment(False).get_template("model_card.md.j2").render(**context)
    html = _environment(True).get_template("model_card.html.j2").render(**context)
    return markdown, html


def publish_model_card(
    client: MlflowClient, settings: CardSettings, version: str, *, out_dir: Path | None = None
) -> ModelCard:
    """Render the card of ``version`` and log it under ``model_card/`` of the version's run.

    ``out_dir`` also keeps a copy there. Raises ``ModelNotFoundError`` for an unknown version.
    """
    context = card_context(client, settings, version)
    markdown, html = render_card(context)
    with tempfile.TemporaryDirectory(prefix="payrisk-card-") as folder:
        target = Path(folder) / CARD_FOLDER
        target.mkdir()
        (target / "model_card.md").write_text(markdown, encoding="utf-8")
        (target / "model_card.html").write_text(html, encoding="utf-8")
        client.log_artifacts(context["run_id"], str(target), CARD_FOLDER)
        if out_dir is not None:
            out_dir.mkdir(parents=True, exist_ok=True)
            for file in target.iterdir():
                (out_dir / file.name).write_bytes(file.read_bytes())
    artifact_uri = f"runs:/{context['run_id']}/{CARD_FOLDER}"
    return ModelCard(artifact_uri=artifact_uri, markdown=markdown, html=html)
