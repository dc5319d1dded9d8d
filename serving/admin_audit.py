"""The API's admin actions in the audit log (``ledger.audit_store``), by the key's name.

The action has already happened when it is recorded, so a database that refuses the
entry does not turn the answer into an error: the entry's JSON log line is written
first, and a warning says the row is missing.
"""

from __future__ import annotations

import logging
from typing import Any

from ledger.audit_store import AuditEntry, Outcome, record
from ledger.store import LedgerStore, StoreUnavailable
from serving.auth import Caller

logger = logging.getLogger("serving.audit")


def record_api_action(
    store: LedgerStore,
    caller: Caller,
    action: str,
    outcome: Outcome,
    target: str | None = None,
    detail: dict[str, Any] | None = None,
) -> None:
    """Record an admin action done through the API by ``caller``'s key."""
    entry = AuditEntry(
        actor=caller.name,
        actor_kind="api_key",
        action=action,
        outcome=outcome,
        target=target,
        detail={"key_id": caller.key_id, **(detail or {})},
    )
    try:
        record(store, entry)
    except StoreUnavailable as error:
        logger.warning(
            "audit entry not stored",
            extra={"fields": {"audit_id": entry.audit_id, "error": str(error)[:500]}},
        )
