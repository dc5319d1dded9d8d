"""`payrisk ledger ...` commands (filled in by the ledger work)."""

import typer

app = typer.Typer(no_args_is_help=True)
