"""`payrisk model-card --version N`: the model card of a registered version, to MLflow."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from payrisk.commands._common import console, load_settings, user_errors
from payrisk.commands._ledger_input import prepare_stores


def model_card_command(
    version: Annotated[int, typer.Option("--version", min=1, help="The registered version.")],
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out", help="Also write model_card.md and .html into this folder.", file_okay=False
        ),
    ] = None,
) -> None:
    """Write the model card (Markdown and HTML) of a version and log it to the version's run."""
    settings = load_settings()
    with user_errors():
        from training.model_card import publish_model_card

        client = prepare_stores(settings)
        card = publish_model_card(client, settings, str(version), out_dir=out_dir)
    where = f" and {out_dir}" if out_dir is not None else ""
    console.print(
        f"model card of {settings.registered_model_name} v{version} logged to "
        f"{card.artifact_uri} (model_card.md, model_card.html){where}",
        highlight=False,
    )


def register(app: typer.Typer) -> None:
    """Add `model-card` to the root app."""
    app.command("model-card")(model_card_command)
