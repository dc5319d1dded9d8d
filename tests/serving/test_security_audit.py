"""The audit log of admin actions: key create/revoke and promote (CLI), reload (API).

Each action leaves a row (who, what, target, outcome, when) that ``payrisk audit list``
shows, and one JSON log line; failed actions are on record too.
"""

from __future__ import annotations

import getpass
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from fastapi import FastAPI
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ledger.audit_store import AuditEntry, list_entries
from ledger.store import LedgerStore
from models.registry import CHAMPION_ALIAS, set_alias
from payrisk.cli import app
from payrisk.settings import Settings

RegisterCopy = Callable[..., tuple[str, str]]


def run(*args: str) -> Result:
    return CliRunner().invoke(app, list(args))


def audit_list(*args: str) -> list[dict[str, Any]]:
    result = run("audit", "list", "--json", *args)
    assert result.exit_code == 0, result.output
    return [json.loads(line) for line in result.stdout.splitlines() if line.strip()]


def _recent(at: str) -> bool:
    moment = datetime.fromisoformat(at)
    return abs(datetime.now(UTC) - moment) < timedelta(minutes=5)


def test_key_create_and_revoke_are_audited_with_the_os_user(payrisk_env: Path) -> None:
    assert audit_list() == []
    created = run("keys", "create", "--name", "erp-prod", "--scope", "ingest", "-q")
    assert created.exit_code == 0, created.output
    revoked = run("keys", "revoke", "erp-prod")
    assert revoked.exit_code == 0, revoked.output

    entries = audit_list()
    assert [(e["action"], e["target"], e["outcome"]) for e in entries] == [
        ("key.revoke", "erp-prod", "ok"),
        ("key.create", "erp-prod", "ok"),
    ]
    assert {(e["actor"], e["actor_kind"]) for e in entries} == {(getpass.getuser(), "os_user")}
    assert all(_recent(e["at"]) for e in entries)
    assert entries[1]["detail"]["scopes"] == ["ingest"]
    assert entries[0]["detail"]["key_id"] == entries[1]["detail"]["key_id"]
    key = created.stdout.strip()
    assert key.startswith("prk_") and key not in json.dumps(entries)
    # The same entry as one JSON log line on stderr.
    lines = [json.loads(line) for line in created.stderr.splitlines() if line.startswith("{")]
    [line] = [line for line in lines if line.get("logger") == "serving.audit"]
    assert (line["action"], line["target"], line["outcome"]) == ("key.create", "erp-prod", "ok")


def test_failed_key_actions_are_audited_too(payrisk_env: Path) -> None:
    assert run("keys", "create", "--name", "ops", "--scope", "admin").exit_code == 0
    duplicate = run("keys", "create", "--name", "ops", "--scope", "admin")
    unknown = run("keys", "revoke", "nobody")
    assert duplicate.exit_code == 1 and "exists" in duplicate.output
    assert unknown.exit_code == 1 and "no active API key" in unknown.output
    failed = audit_list("--action", "key.revoke") + audit_list("--action", "key.create")
    outcomes = [(e["action"], e["target"], e["outcome"]) for e in failed]
    assert outcomes == [
        ("key.revoke", "nobody", "failed"),
        ("key.create", "ops", "failed"),
        ("key.create", "ops", "ok"),
    ]
    assert "no active API key" in failed[0]["detail"]["error"]


def test_audit_list_filters_limits_and_prints_a_table(payrisk_env: Path) -> None:
    for name in ("a", "b", "c"):
        assert run("keys", "create", "--name", name, "--scope", "score").exit_code == 0
    assert [e["target"] for e in audit_list("--limit", "2")] == ["c", "b"]
    assert audit_list("--actor", "someone-else") == []
    table = run("audit", "list")
    assert table.exit_code == 0 and "3 audit entries" in table.stdout
    assert "key.create" in table.stdout
    typo = run("audit", "list", "--action", "key.delete")
    assert typo.exit_code == 1 and "unknown audit action 'key.delete'" in typo.output


@pytest.fixture
def promote_env(
    payrisk_env: Path, registry: Any, register_copy: RegisterCopy, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, str]:
    """The CLI pointed at the session's MLflow store, on a model name of its own."""
    name, version = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, version)
    monkeypatch.setenv("PAYRISK_MLFLOW_TRACKING_URI", registry.tracking_uri)
    monkeypatch.setenv("PAYRISK_REGISTERED_MODEL_NAME", name)
    return name, version


def test_promote_is_audited_done_or_failed(promote_env: tuple[str, str]) -> None:
    name, version = promote_env
    done = run("promote", "--version", version, "--reason", "audit test")
    assert done.exit_code == 0, done.output
    missing = run("promote", "--version", "99")
    assert missing.exit_code == 1
    entries = audit_list("--action", "model.promote")
    assert [(e["target"], e["outcome"]) for e in entries] == [
        (name, "failed"),
        (f"{name} v{version}", "ok"),
    ]
    assert entries[1]["detail"]["decision"] == "rollback"
    assert entries[1]["detail"]["reason"] == "audit test"
    assert entries[0]["detail"]["error"]
    assert entries[0]["actor"] == getpass.getuser()


def test_reload_through_the_api_is_audited_with_the_key_name(
    registry: Any,
    register_copy: RegisterCopy,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    name, version = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, version)
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri, registered_model_name=name
    )
    client = client_for(settings)
    keys = keys_for(client)
    headers = {"Authorization": f"Bearer {keys['admin']}"}
    assert client.post("/v1/model:reload", headers=headers).status_code == 200
    # A scope it lacks: refused before anything happens, so nothing to audit.
    score_only = {"Authorization": f"Bearer {keys['score']}"}
    assert client.post("/v1/model:reload", headers=score_only).status_code == 403

    assert isinstance(client.app, FastAPI)
    entries: list[AuditEntry] = list_entries(client.app.state.store)
    [entry] = entries
    assert (entry.actor, entry.actor_kind, entry.action) == ("admin-key", "api_key", "model.reload")
    assert (entry.target, entry.outcome) == (f"{name}@champion", "ok")
    assert entry.detail is not None and entry.detail["outcome"] == "unchanged"
    assert entry.detail["serving_version"] == version


def test_a_failed_reload_is_audited_as_failed(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    client = client_for(service_settings())  # no MLflow store: nothing can load
    keys = keys_for(client)
    response = client.post("/v1/model:reload", headers={"Authorization": f"Bearer {keys['all']}"})
    assert response.status_code == 503
    assert isinstance(client.app, FastAPI)
    store: LedgerStore = client.app.state.store
    [entry] = list_entries(store)
    assert (entry.actor, entry.action, entry.outcome) == ("all-scopes", "model.reload", "failed")
    assert entry.detail is not None and entry.detail["error"]
