"""`payrisk keys ...`: create, list and revoke the service's API keys.

A key is printed once, at creation; the database keeps only its hash. Creating and
revoking are written to the audit log (`payrisk audit list`).
"""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from payrisk.commands._common import console, err_console, load_settings, user_errors
from payrisk.commands.audit import cli_audited

app = typer.Typer(no_args_is_help=True)

SCOPE_HELP = "A scope the key grants: score, ingest, worklist or admin (repeat for several)."


@app.command("create")
def create(
    name: Annotated[str, typer.Option("--name", help="Who the key is for, e.g. erp-prod.")],
    scope: Annotated[list[str], typer.Option("--scope", help=SCOPE_HELP)],
    quiet: Annotated[
        bool, typer.Option("--quiet", "-q", help="Print only the key (for scripts).")
    ] = False,
) -> None:
    """Create an API key and print it once; only its hash is stored."""
    from ledger.store import LedgerStore
    from serving.auth import create_key

    settings = load_settings()
    with user_errors(), LedgerStore.from_url(settings.resolved_database_url) as store:
        store.migrate()
        with cli_audited(store, "key.create", target=name.strip()) as audit:
            created = create_key(store, name, scope)
            audit.done(key_id=created.info.key_id, scopes=list(created.info.scopes))
    if quiet:
        typer.echo(created.key)
        return
    info = created.info
    err_console.print(
        f"created key {info.key_id} named {info.name!r} with scopes {', '.join(info.scopes)}; "
        "it is shown only now, store it safely:",
        highlight=False,
    )
    typer.echo(created.key)


@app.command("list")
def list_command() -> None:
    """List every key: id, name, scopes, created, revoked (never the keys themselves)."""
    from ledger.store import LedgerStore
    from serving.auth import list_keys

    settings = load_settings()
    with user_errors(), LedgerStore.from_url(settings.resolved_database_url) as store:
        store.migrate()
        keys = list_keys(store)
    table = Table(title=f"{len(keys)} API key(s)")
    for column in ("id", "name", "scopes", "created", "status"):
        table.add_column(column)
    for info in keys:
        created = f"{info.created_at:%Y-%m-%d %H:%M}" if info.created_at else ""
        status = "active" if info.active else f"revoked {info.revoked_at:%Y-%m-%d %H:%M}"
        table.add_row(info.key_id, info.name, " ".join(info.scopes), created, status)
    console.print(table)


@app.command("revoke")
def revoke(
    name_or_id: Annotated[str, typer.Argument(help="The key's name or id (see `keys list`).")],
) -> None:
    """Revoke a key; the service refuses it within PAYRISK_API_KEY_CACHE_SECONDS."""
    from ledger.store import LedgerStore
    from serving.auth import revoke_key

    settings = load_settings()
    with user_errors(), LedgerStore.from_url(settings.resolved_database_url) as store:
        store.migrate()
        with cli_audited(store, "key.revoke", target=name_or_id) as audit:
            info = revoke_key(store, name_or_id)
            audit.done(target=info.name, key_id=info.key_id)
    console.print(f"revoked key {info.key_id} named {info.name!r}", highlight=False)


def register(root: typer.Typer) -> None:
    """Add `payrisk keys` to the root app."""
    root.add_typer(app, name="keys", help="Create, list and revoke the API's keys.")
