"""`payrisk db ...`: create and upgrade the ledger database's schema."""

from __future__ import annotations

import typer

from ledger import migrations
from ledger.store import LedgerStore
from payrisk.commands._common import console, load_settings, user_errors

app = typer.Typer(no_args_is_help=True)


@app.command("upgrade")
def upgrade() -> None:
    """Migrate the database (PAYRISK_DATABASE_URL) to the newest schema; safe to repeat."""
    settings = load_settings()
    with user_errors():
        store = LedgerStore.from_url(settings.resolved_database_url)
        try:
            before = store.revision()
            after = store.migrate()
        finally:
            store.dispose()
    if before == after:
        console.print(f"{store.display_url}: already at schema revision {after}", soft_wrap=True)
    else:
        console.print(
            f"{store.display_url}: upgraded from {before or 'empty'} to {after}", soft_wrap=True
        )


@app.command("current")
def current(
    check: bool = typer.Option(
        False, "--check", help="Exit with code 1 unless the schema is the newest."
    ),
) -> None:
    """Show the database's schema revision and whether it is the newest."""
    settings = load_settings()
    with user_errors():
        store = LedgerStore.from_url(settings.resolved_database_url)
        try:
            revision = store.revision()
        finally:
            store.dispose()
    head = migrations.head_revision()
    if revision == head:
        console.print(f"{store.display_url}: schema revision {revision} (newest)", soft_wrap=True)
        return
    if revision is not None and revision not in migrations.known_revisions():
        advice = "a newer payrisk migrated it: upgrade payrisk"
    else:
        advice = "run `payrisk db upgrade`"
    shown = revision or "none (no payrisk tables yet)"
    console.print(
        f"{store.display_url}: schema revision {shown}; newest is {head}: {advice}", soft_wrap=True
    )
    if check:
        raise typer.Exit(1)


def register(root: typer.Typer) -> None:
    """Add `payrisk db` to the root app."""
    root.add_typer(app, name="db", help="Create and upgrade the ledger database schema.")
