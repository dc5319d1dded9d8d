"""`payrisk audit list`: read the audit log of admin actions; and the CLI's way to write it.

Commands that change who may do what or which model serves (`keys create`, `keys revoke`,
`promote`) run their action inside ``cli_audited``: the entry names the OS user, and its
JSON line goes to stderr like the service's logs.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.markup import escape
from rich.table import Table

from payrisk.commands._common import console, load_settings, user_errors

if TYPE_CHECKING:
    from ledger.audit_store import PendingAudit
    from ledger.store import LedgerStore
    from models.registry import PromotionDecision

app = typer.Typer(no_args_is_help=True)


def cli_actor() -> str:
    """Who runs this command: the OS user name (``unknown`` when the system cannot say)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):  # no passwd entry and no LOGNAME/USER in the environment
        return "unknown"


@contextmanager
def cli_audited(
    store: LedgerStore, action: str, target: str | None = None
) -> Iterator[PendingAudit]:
    """``ledger.audit_store.audited`` for the OS user, with the JSON log line on stderr."""
    from ledger.audit_store import audited
    from serving.logs import configure_logging

    configure_logging(load_settings().log_level)
    with audited(store, cli_actor(), "os_user", action, target) as pending:
        yield pending


@contextmanager
def audit_store() -> Iterator[LedgerStore]:
    """The ledger database that keeps the audit log, migrated (closed afterwards)."""
    from ledger.store import LedgerStore

    with LedgerStore.from_url(load_settings().resolved_database_url) as store:
        store.migrate()
        yield store


def decision_detail(decision: PromotionDecision) -> dict[str, Any]:
    """What the audit log keeps of a promotion decision."""
    names = ("decision", "champion_before", "champion_after", "forced", "reason", "metric")
    values = {name: getattr(decision, name) for name in names}
    return values | {"challenger": decision.challenger_value, "champion": decision.champion_value}


@app.command("list")
def list_command(
    limit: Annotated[int, typer.Option("--limit", min=1, help="Newest entries to show.")] = 50,
    action: Annotated[
        str | None,
        typer.Option(
            "--action", help="Only this action: key.create, key.revoke, model.promote, ..."
        ),
    ] = None,
    actor: Annotated[
        str | None, typer.Option("--actor", help="Only this key name or OS user.")
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="One JSON object per line.")] = False,
) -> None:
    """Show the audit log, newest first: when, who, what, target, outcome."""
    from ledger.audit_store import list_entries
    from ledger.store import LedgerStore

    settings = load_settings()
    with user_errors(), LedgerStore.from_url(settings.resolved_database_url) as store:
        store.migrate()
        entries = list_entries(store, limit=limit, action=action, actor=actor)
    if as_json:
        for entry in entries:
            typer.echo(json.dumps(asdict(entry) | {"at": entry.at.isoformat()}, default=str))
        return
    table = Table(title=f"{len(entries)} audit entr{'y' if len(entries) == 1 else 'ies'}")
    for column in ("at (UTC)", "who", "action", "target", "outcome", "detail"):
        table.add_column(column)
    for entry in entries:
        who = f"{entry.actor} ({'key' if entry.actor_kind == 'api_key' else 'user'})"
        detail = json.dumps(entry.detail, default=str) if entry.detail else ""
        at = f"{entry.at:%Y-%m-%d %H:%M:%S}"
        cells = (at, who, entry.action, entry.target or "", entry.outcome, detail)
        table.add_row(*(escape(cell) for cell in cells))  # names are data, not markup
    console.print(table)


def register(root: typer.Typer) -> None:
    """Add `payrisk audit` to the root app."""
    root.add_typer(app, name="audit", help="Read the audit log of admin actions.")
