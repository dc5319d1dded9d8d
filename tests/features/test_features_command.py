"""`payrisk features`: the table, the Markdown docs, and docs/features.md kept in sync."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from features.describe import registry_markdown
from features.registry import FEATURE_NAMES
from payrisk.cli import app

ROOT = Path(__file__).resolve().parents[2]


def test_features_prints_every_feature() -> None:
    result = CliRunner().invoke(app, ["features"], env={"COLUMNS": "200"})
    assert result.exit_code == 0, result.output
    assert all(name in result.output for name in FEATURE_NAMES)


def test_markdown_writes_one_table_row_per_feature(tmp_path: Path) -> None:
    out = tmp_path / "docs" / "features.md"
    result = CliRunner().invoke(app, ["features", "--markdown", "--out", str(out)])
    assert result.exit_code == 0, result.output
    text = out.read_text(encoding="utf-8")
    rows = [line for line in text.splitlines() if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == list(FEATURE_NAMES)


def test_committed_docs_match_the_registry() -> None:
    """docs/features.md is generated; regenerate with `payrisk features --markdown`."""
    committed = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert committed == registry_markdown()
