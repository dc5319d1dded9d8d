"""The audit log of admin actions: who did what, when, and how it ended.

Admin actions are API key creation and revocation and model promotion (CLI) and model
reload (API, scope ``admin``). Each one is written as a row of ``audit_log`` (an append
only table; migration 0005) and as one JSON log line (logger ``serving.audit``), the log
line first, so an action is on record even when the database write fails. Who: the
API key's name for the API, the OS user for the CLI. Times are UTC.
"""

from __future__ import annotations

import logging
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Literal

import sqlalchemy as sa

from ledger.db_schema import AUDIT_LOG
from ledger.errors import PayriskError
from ledger.store import LedgerStore, StoreUnavailable

# Under ``serving``: the service's JSON log setup (``serving.logs``) prints it, and the
# CLI turns the same setup on before it records an action.
audit_logger = logging.getLogger("serving.audit")

ActorKind = Literal["api_key", "os_user"]
Outcome = Literal["ok", "refused", "failed"]
ACTIONS = ("key.create", "key.revoke", "model.promote", "model.reload", "model.retrain")
DEFAULT_LIMIT = 50


@dataclass(frozen=True)
class AuditEntry:
    """One admin action. ``detail``: small JSON-able facts (versions, scopes, the error)."""

    actor: str
    actor_kind: ActorKind
    action: str
    outcome: Outcome
    target: str | None = None
    detail: dict[str, Any] | None = None
    at: datetime = field(default_factory=lambda: datetime.now(UTC))
    audit_id: str = field(default_factory=lambda: "aud_" + uuid.uuid4().hex[:16])


def _utc(moment: datetime) -> datetime:
    # SQLite hands back naive datetimes; they were written in UTC.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def log_line(entry: AuditEntry) -> None:
    """Write the entry as one JSON log line (``serving.audit``, level INFO)."""
    fields = asdict(entry) | {"at": entry.at.isoformat()}
    audit_logger.info("audit", extra={"fields": fields})


@contextmanager
def _transaction(store: LedgerStore, verb: str) -> Iterator[sa.Connection]:
    try:
        with store.engine.begin() as connection:
            yield connection
    except (sa.exc.DBAPIError, OSError) as error:
        reason = str(getattr(error, "orig", None) or error).strip().splitlines()[0]
        raise StoreUnavailable(
            f"cannot {verb} the audit log in {store.display_url}: {reason} "
            "(is the database migrated? `payrisk db upgrade`)"
        ) from error


def record(store: LedgerStore, entry: AuditEntry) -> AuditEntry:
    """Log the entry, then store it; ``StoreUnavailable`` when the database refuses it."""
    log_line(entry)
    with _transaction(store, "write") as connection:
        connection.execute(AUDIT_LOG.insert().values(**asdict(entry)))
    return entry


def list_entries(
    store: LedgerStore,
    limit: int = DEFAULT_LIMIT,
    action: str | None = None,
    actor: str | None = None,
) -> list[AuditEntry]:
    """The newest ``limit`` entries, newest first, optionally of one action or actor.

    ``PayriskError`` for an action that is not one of ``ACTIONS`` (a typo is no filter).
    """
    if action is not None and action not in ACTIONS:
        raise PayriskError(f"unknown audit action {action!r}; known: {', '.join(ACTIONS)}")
    query = sa.select(AUDIT_LOG).order_by(AUDIT_LOG.c.at.desc(), AUDIT_LOG.c.audit_id.desc())
    if action is not None:
        query = query.where(AUDIT_LOG.c.action == action)
    if actor is not None:
        query = query.where(AUDIT_LOG.c.actor == actor)
    with _transaction(store, "read") as connection:
        rows = connection.execute(query.limit(limit)).all()
    return [
        AuditEntry(
            actor=row.actor,
            actor_kind=row.actor_kind,
            action=row.action,
            outcome=row.outcome,
            target=row.target,
            detail=row.detail,
            at=_utc(row.at),
            audit_id=row.audit_id,
        )
        for row in rows
    ]


class AuditNotStored(PayriskError):
    """The action was done (or refused) but its audit entry could not be stored."""


@dataclass
class PendingAudit:
    """What an ``audited`` block says about its action before it ends."""

    outcome: Outcome = "ok"
    target: str | None = None
    detail: dict[str, Any] | None = None

    def done(self, outcome: Outcome = "ok", target: str | None = None, **detail: Any) -> None:
        """Set the outcome (and target, detail) recorded when the block ends."""
        self.outcome = outcome
        self.target = target if target is not None else self.target
        self.detail = {**(self.detail or {}), **detail} or None


@contextmanager
def audited(
    store: LedgerStore, actor: str, actor_kind: ActorKind, action: str, target: str | None = None
) -> Iterator[PendingAudit]:
    """Record the action of the block: its ``done(...)`` outcome, or "failed" on an error.

    The block's own error is re-raised after it is recorded; an audit write that fails
    raises ``AuditNotStored`` (the action's outcome is in its message and in the log line).
    """
    pending = PendingAudit(target=target)
    try:
        yield pending
    except Exception as error:  # any failure of the action is on record, then goes on up
        pending.done("failed", error=f"{type(error).__name__}: {error}"[:500])
        _store_or_raise(store, _entry(actor, actor_kind, action, pending))
        raise
    _store_or_raise(store, _entry(actor, actor_kind, action, pending))


def _entry(actor: str, actor_kind: ActorKind, action: str, pending: PendingAudit) -> AuditEntry:
    return AuditEntry(
        actor=actor,
        actor_kind=actor_kind,
        action=action,
        outcome=pending.outcome,
        target=pending.target,
        detail=pending.detail,
    )


def _store_or_raise(store: LedgerStore, entry: AuditEntry) -> None:
    try:
        record(store, entry)
    except StoreUnavailable as error:
        cause = (entry.detail or {}).get("error")
        ended = f"{entry.action} ended {entry.outcome!r}" + (f" ({cause})" if cause else "")
        raise AuditNotStored(f"{ended}, but its audit entry was not stored: {error}") from error
