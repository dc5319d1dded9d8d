"""What every command shares: settings, the console, and the error edge."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import typer
from rich.console import Console

from ledger.errors import PayriskError
from payrisk.settings import Settings

console = Console()
err_console = Console(stderr=True)


def load_settings() -> Settings:
    return Settings()


@contextmanager
def user_errors(exit_code: int = 1) -> Iterator[None]:
    """Turn a PayriskError into a red message on stderr and a non-zero exit."""
    try:
        yield
    except PayriskError as error:
        err_console.print(f"[bold red]error:[/] {error}", highlight=False)
        raise typer.Exit(exit_code) from error
