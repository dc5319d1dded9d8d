"""API keys: hashed storage, scopes, the 401/403 matrix over every route, the CLI, logs."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
import typer
from fastapi import FastAPI
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ledger.db_schema import API_KEYS
from ledger.frames import Ledger
from ledger.store import LedgerStore
from payrisk.commands import keys as keys_commands
from serving.auth import (
    SCOPES,
    ApiKeyError,
    KeyAuthenticator,
    create_key,
    find_caller,
    list_keys,
    revoke_key,
)
from serving.routes.worklist import ACTION_SCOPES

CUSTOMER = {"customer_id": "c1", "name": "Galil", "country": "IL", "currency": "ILS"}
INVOICE = {
    "invoice_id": "i1",
    "customer_id": "c1",
    "issue_date": "2026-01-05",
    "due_date": "2026-02-04",
    "amount": 1200.0,
}
PAYMENT = {"customer_id": "c1", "invoice_id": "i1", "payment_date": "2026-02-10", "amount": 1200.0}
ACTIVITY = {"activity_id": "a1", "customer_id": "c1", "date": "2026-02-06", "kind": "reminder"}

# (method, path, json body, the scope it needs) for every route this suite owns.
INGEST_ROUTES: list[tuple[str, str, dict[str, Any], str]] = [
    ("PUT", "/v1/customers/c1", CUSTOMER, "ingest"),
    ("PUT", "/v1/invoices/i1", INVOICE, "ingest"),
    ("PUT", "/v1/payments/p1", PAYMENT, "ingest"),
    ("POST", "/v1/activities", ACTIVITY, "ingest"),
    ("POST", "/v1/ledger/batch", {"customers": [CUSTOMER], "invoices": [INVOICE]}, "ingest"),
]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def store(sqlite_url: str) -> Iterator[LedgerStore]:
    with LedgerStore.from_url(sqlite_url) as migrated:
        migrated.migrate()
        yield migrated


def test_only_the_hash_of_a_key_is_stored(store: LedgerStore) -> None:
    created = create_key(store, "erp", ["score", "ingest", "score"])
    with store.engine.connect() as connection:
        rows = connection.execute(sa.select(API_KEYS)).mappings().all()
    assert created.key.startswith("prk_") and len(created.key) == 47
    assert created.info.scopes == ("ingest", "score")
    assert len(rows) == 1
    assert rows[0]["key_hash"] == hashlib.sha256(created.key.encode()).hexdigest()
    assert created.key not in {str(value) for value in rows[0].values()}


def test_lookup_by_key_then_revoke_by_name_or_id(store: LedgerStore) -> None:
    erp = create_key(store, "erp", ["ingest"])
    crm = create_key(store, "crm", ["score"])
    caller = find_caller(store, erp.key)
    assert caller is not None
    assert (caller.name, caller.scopes) == ("erp", frozenset({"ingest"}))
    assert find_caller(store, erp.key + "x") is None

    revoke_key(store, "erp")
    revoke_key(store, crm.info.key_id)

    assert find_caller(store, erp.key) is None
    assert find_caller(store, crm.key) is None
    assert [(info.name, info.active) for info in list_keys(store)] == [
        ("erp", False),
        ("crm", False),
    ]


def test_bad_names_scopes_and_revokes_are_refused(store: LedgerStore) -> None:
    create_key(store, "erp", ["ingest"])
    with pytest.raises(ApiKeyError, match="active key named 'erp' exists"):
        create_key(store, "erp", ["score"])
    with pytest.raises(ApiKeyError, match=r"scopes must be among .*\['write'\]"):
        create_key(store, "other", ["write"])
    with pytest.raises(ApiKeyError, match="no active API key with the name or id 'nobody'"):
        revoke_key(store, "nobody")
    revoke_key(store, "erp")
    assert create_key(store, "erp", ["score"]).info.scopes == ("score",)


def test_a_revoked_key_is_trusted_only_until_its_cache_expires(store: LedgerStore) -> None:
    now = [100.0]
    authenticator = KeyAuthenticator(store, cache_seconds=5.0, clock=lambda: now[0])
    created = create_key(store, "erp", ["ingest"])
    assert authenticator.authenticate(created.key) is not None
    revoke_key(store, "erp")
    now[0] = 104.0
    assert authenticator.authenticate(created.key) is not None
    now[0] = 105.5
    assert authenticator.authenticate(created.key) is None


def _seed_customer(app: FastAPI) -> None:
    """Customer c1 and invoice i1, which the payment and activity refer to."""
    customers, invoices = pd.DataFrame([CUSTOMER]), pd.DataFrame([INVOICE])
    app.state.store.upsert(Ledger.from_frames(customers=customers, invoices=invoices))


def _call(client: TestClient, method: str, path: str, body: Any, **headers: str) -> Any:
    return client.request(method, path, json=body, headers=headers)


@pytest.mark.parametrize(("method", "path", "body", "scope"), INGEST_ROUTES)
def test_ingest_auth_matrix(
    client: TestClient,
    keys: dict[str, str],
    method: str,
    path: str,
    body: dict[str, Any],
    scope: str,
) -> None:
    assert isinstance(client.app, FastAPI)
    _seed_customer(client.app)
    missing = _call(client, method, path, body)
    malformed = _call(client, method, path, body, Authorization=f"Basic {keys[scope]}")
    unknown = _call(client, method, path, body, **bearer("prk_not-a-key"))
    assert (missing.status_code, malformed.status_code, unknown.status_code) == (401, 401, 401)
    assert "missing API key" in missing.json()["detail"]
    assert "Authorization: Bearer <key>" in missing.json()["detail"]
    assert missing.headers["WWW-Authenticate"] == "Bearer"
    assert unknown.json()["error"] == "invalid_api_key"
    for other in (s for s in SCOPES if s != scope):
        refused = _call(client, method, path, body, **bearer(keys[other]))
        assert refused.status_code == 403
        assert refused.json()["required_scope"] == scope
        assert refused.json()["key_scopes"] == [other]
    allowed = _call(client, method, path, body, **bearer(keys[scope]))
    assert allowed.status_code == 200, allowed.text


# Guards that let in any one of several scopes, by the name in ``require_<name>_scope``.
SCOPE_GROUPS = {"action": frozenset(ACTION_SCOPES)}


def _required_scopes(route: RouteContext) -> list[frozenset[str]]:
    """Per ``require_<scope>_scope`` guard under the route, the scopes it lets in."""
    found, pending = [], list(route.dependant.dependencies)
    while pending:
        dependant = pending.pop()
        name = getattr(dependant.call, "__name__", "")
        if name.startswith("require_") and name.endswith("_scope"):
            guard = name.removeprefix("require_").removesuffix("_scope")
            found.append(SCOPE_GROUPS.get(guard, frozenset({guard})))
        pending.extend(dependant.dependencies)
    return found


def _v1_routes(app: FastAPI) -> list[RouteContext]:
    return [
        route
        for route in iter_route_contexts(app.routes)
        if isinstance(route.original_route, APIRoute) and (route.path or "").startswith("/v1")
    ]


def test_every_v1_route_needs_its_scope(client: TestClient, keys: dict[str, str]) -> None:
    """Generic over the app's routes, so routes added later are covered too."""
    assert isinstance(client.app, FastAPI)
    routes = _v1_routes(client.app)
    assert len(routes) >= len(INGEST_ROUTES)
    for route in routes:
        guards = _required_scopes(route)
        assert len(guards) == 1, f"{route.path} needs exactly one scope guard, has {guards}"
        (allowed,) = guards
        path = str(route.path).replace("{", "").replace("}", "")  # /v1/customers/customer_id
        for method in route.methods or ():
            body: dict[str, Any] | None = {} if method in ("POST", "PUT", "PATCH") else None
            assert _call(client, method, path, body).status_code == 401, route.path
            for scope in SCOPES:
                answer = _call(client, method, path, body, **bearer(keys[scope]))
                if scope in allowed:
                    assert answer.status_code not in (401, 403), (route.path, answer.text)
                else:
                    assert answer.status_code == 403, (route.path, scope)


def test_a_revoked_key_gets_401(client: TestClient, keys: dict[str, str]) -> None:
    assert isinstance(client.app, FastAPI)
    revoke_key(client.app.state.store, "ingest-key")
    response = client.put("/v1/customers/c1", json=CUSTOMER, headers=bearer(keys["ingest"]))
    assert response.status_code == 401
    assert response.json()["detail"] == "unknown or revoked API key"


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_keys_never_reach_the_logs(
    client: TestClient, keys: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    client.put("/v1/customers/c1", json=CUSTOMER, headers=bearer(keys["ingest"]))
    client.put("/v1/customers/c1", json=CUSTOMER, headers=bearer(keys["score"]))
    client.put("/v1/customers/c1", json=CUSTOMER, headers=bearer(keys["ingest"] + "x"))
    client.put("/v1/customers/c1", json=CUSTOMER, headers={"Authorization": keys["admin"]})
    printed = capsys.readouterr()
    log_lines = [json.loads(line) for line in printed.err.splitlines()]
    assert [line["status"] for line in log_lines] == [200, 403, 401, 401]
    assert [line["key_name"] for line in log_lines] == ["ingest-key", "score-key", None, None]
    assert all(key[4:] not in printed.err + printed.out for key in keys.values())


def test_the_access_log_names_the_key_not_the_key(client: TestClient, keys: dict[str, str]) -> None:
    handler = _Records()
    access_logger = logging.getLogger("serving.access")
    access_logger.addHandler(handler)
    try:
        client.put("/v1/customers/c1", json=CUSTOMER, headers=bearer(keys["ingest"]))
    finally:
        access_logger.removeHandler(handler)
    fields = handler.records[-1].fields  # type: ignore[attr-defined]
    assert (fields["key_name"], fields["status"]) == ("ingest-key", 200)
    assert fields["route"] == "/v1/customers/{customer_id}"
    assert keys["ingest"] not in str(fields)


def _keys_app() -> typer.Typer:
    app = typer.Typer()
    keys_commands.register(app)
    app.callback()(lambda: None)
    return app


def test_keys_cli_prints_a_key_once_lists_and_revokes(payrisk_env: Path) -> None:
    runner, app = CliRunner(), _keys_app()
    created = runner.invoke(
        app, ["keys", "create", "--name", "erp", "--scope", "ingest", "--scope", "score"]
    )
    assert created.exit_code == 0, created.output
    key = created.stdout.strip().splitlines()[-1]
    assert key.startswith("prk_")

    listed = runner.invoke(app, ["keys", "list"])
    revoked = runner.invoke(app, ["keys", "revoke", "erp"])
    again = runner.invoke(app, ["keys", "revoke", "erp"])
    bad_scope = runner.invoke(app, ["keys", "create", "--name", "x", "--scope", "root"])

    assert listed.exit_code == 0
    assert "erp" in listed.stdout and "ingest score" in listed.stdout
    assert key not in listed.stdout and key[4:20] not in listed.stdout
    assert revoked.exit_code == 0 and "revoked key key_" in revoked.stdout
    assert again.exit_code == 1 and "no active API key" in again.output
    assert bad_scope.exit_code == 1 and "scopes must be among" in bad_scope.output
    with LedgerStore.from_url(f"sqlite:///{payrisk_env / 'payrisk.db'}") as store:
        assert find_caller(store, key) is None
