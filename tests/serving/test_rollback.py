"""Rollback: `payrisk promote --version 1` while the service serves v2; the running app
picks v1 up through its normal reload (the poller, or POST /v1/model:reload) and its
scores carry version 1. The alias is moved by the real CLI, the app is a real app."""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
from fastapi.testclient import TestClient
from typer.testing import CliRunner

from ledger.frames import Ledger
from models.registry import CHAMPION_ALIAS, set_alias
from payrisk.cli import app
from payrisk.settings import Settings

AS_OF = "2026-11-30"
POLL_SECONDS = 0.05
DEADLINE_SECONDS = 30.0


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _rows(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """JSON rows: ISO dates, null for missing."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [
        {k: v.date().isoformat() if isinstance(v, pd.Timestamp) else v for k, v in row.items()}
        for row in rows
    ]


def _stateless_body(ledger: Ledger, customer_id: str) -> dict[str, Any]:
    """The stateless scoring request for one customer's whole history."""
    tables = {
        name: frame[frame["customer_id"] == customer_id] for name, frame in ledger.tables().items()
    }
    return {
        "customer": _rows(tables["customers"])[0],
        "invoices": _rows(tables["invoices"]),
        "payments": _rows(tables["payments"]),
        "activities": _rows(tables["activities"]),
        "as_of": AS_OF,
    }


def _served_version(client: TestClient, key: str) -> str:
    response = client.get("/v1/model", headers=bearer(key))
    assert response.status_code == 200, response.text
    return str(response.json()["version"])


def _wait_for_version(client: TestClient, key: str, wanted: str) -> float:
    """Poll GET /v1/model until ``wanted`` serves; seconds it took (fails at the deadline)."""
    started = time.monotonic()
    while (served := _served_version(client, key)) != wanted:
        if time.monotonic() - started > DEADLINE_SECONDS:
            pytest.fail(f"still serving v{served}, not v{wanted}, after {DEADLINE_SECONDS} s")
        time.sleep(POLL_SECONDS)
    return time.monotonic() - started


@pytest.mark.parametrize("reload_by", ["poller", "admin reload"])
def test_promote_version_rolls_the_running_service_back(
    reload_by: str,
    registry: Any,
    register_copy: Callable[..., tuple[str, str]],
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
    tmp_path: Path,
) -> None:
    name, first = register_copy()
    _, second = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, second)
    poll = POLL_SECONDS if reload_by == "poller" else 0
    client = client_for(
        service_settings(
            mlflow_tracking_uri=registry.tracking_uri,
            registered_model_name=name,
            model_poll_seconds=poll,
        )
    )
    keys = keys_for(client)
    open_customer = registry.ledger.invoices.loc[
        registry.ledger.invoices["paid_date"].isna(), "customer_id"
    ].iloc[0]
    body = _stateless_body(registry.ledger, str(open_customer))
    before = client.post("/v1/scores:stateless", json=body, headers=bearer(keys["score"]))

    rolled = CliRunner().invoke(
        app,
        ["promote", "--version", first, "--reason", "rollback test"],
        env={
            "PAYRISK_DATA_DIR": str(tmp_path / "cli-data"),
            "PAYRISK_MLFLOW_TRACKING_URI": registry.tracking_uri,
            "PAYRISK_REGISTERED_MODEL_NAME": name,
        },
    )
    if reload_by == "admin reload":
        reloaded = client.post("/v1/model:reload", headers=bearer(keys["admin"]))
        assert reloaded.status_code == 200, reloaded.text
        assert (reloaded.json()["previous_version"], reloaded.json()["serving_version"]) == (
            second,
            first,
        )
    _wait_for_version(client, keys["score"], first)
    after = client.post("/v1/scores:stateless", json=body, headers=bearer(keys["score"]))

    assert (first, second) == ("1", "2")
    assert rolled.exit_code == 0, rolled.output
    assert f"{name} v1 set as champion by --version" in rolled.output
    assert before.status_code == 200, before.text
    assert before.json()["model"] == {"name": name, "version": second}
    assert after.status_code == 200, after.text
    assert after.json()["model"] == {"name": name, "version": first}
    assert after.json()["customer"]["open_invoices"] > 0
    tags = registry.client().get_model_version(name, first).tags
    assert tags["promotion.decision"] == "rollback"
    assert tags["promotion.champion_before"] == second
    assert "rollback test" in tags["promotion.reason"]
