"""`payrisk features`: print the feature registry, or write it as docs/features.md."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from features.describe import registry_markdown
from features.registry import FEATURES
from payrisk.commands._common import console

DEFAULT_DOCS_PATH = Path("docs/features.md")


def _registry_table() -> Table:
    table = Table(title=f"payrisk features ({len(FEATURES)})", show_lines=False)
    for header in ("family", "feature", "kind", "unit", "description"):
        table.add_column(header, overflow="fold")
    for spec in FEATURES:
        table.add_row(spec.family, spec.name, spec.kind, spec.unit, spec.description)
    return table


def features(
    markdown: Annotated[
        bool, typer.Option("--markdown", help="Write the registry as Markdown to --out.")
    ] = False,
    out: Annotated[
        Path, typer.Option("--out", help="Where --markdown writes.", dir_okay=False)
    ] = DEFAULT_DOCS_PATH,
) -> None:
    """List every feature: name, family, kind, unit and what it means as of t."""
    if not markdown:
        console.print(_registry_table())
        return
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(registry_markdown(), encoding="utf-8")
    console.print(f"wrote {len(FEATURES)} features to {out}")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the root app."""
    app.command("features")(features)
