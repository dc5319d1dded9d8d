"""GET /v1/worklist, GET /v1/kpis and POST /v1/customers/{id}/activities over HTTP."""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Callable
from datetime import date
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.db_schema import SQL_TABLES
from ledger.frames import Ledger
from ledger.scores_store import write_scores
from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.routes import worklist as worklist_routes
from tests.serving.conftest import stored_scores

TODAY = date(2026, 3, 1)


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ledger() -> Ledger:
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3"],
            "name": ["Alef", "Bet", "Gimel"],
            "segment": ["enterprise", "smb", "smb"],
            "country": ["IL", "US", "US"],
            "currency": ["ILS", "USD", "USD"],
            "collector": ["ann", "ann", "bob"],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3"],
            "customer_id": ["C1", "C2", "C3"],
            "issue_date": pd.to_datetime(["2026-01-01"] * 3),
            "due_date": pd.to_datetime(["2026-03-10", "2026-02-01", "2026-02-15"]),
            "amount": [8000.0, 1000.0, 2000.0],
            "currency": ["ILS", "USD", "USD"],
        }
    )
    return Ledger.from_frames(customers=customers, invoices=invoices)


@pytest.fixture
def service(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
    monkeypatch: pytest.MonkeyPatch,
) -> tuple[TestClient, dict[str, str]]:
    monkeypatch.setattr(worklist_routes, "today_utc", lambda: TODAY)
    settings = service_settings(
        fx_rates={"ILS": 0.25},
        tier_high_amount=900.0,
        tier_medium_amount=250.0,
        calls_per_collector_per_day=1,
    )
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    store = client.app.state.store
    store.upsert(_ledger())
    write_scores(store, stored_scores())
    return client, keys_for(client)


def _get(service: tuple[TestClient, dict[str, str]], path: str, **kwargs: object) -> object:
    client, keys = service
    headers = bearer(keys["worklist"]) | kwargs.pop("headers", {})  # type: ignore[operator]
    return client.get(path, headers=headers, **kwargs)  # type: ignore[arg-type]


def test_worklist_ranks_and_pages(service: tuple[TestClient, dict[str, str]]) -> None:
    response = _get(service, "/v1/worklist")
    assert response.status_code == 200, response.text
    body = response.json()
    # C1: 8000 ILS x 0.25 x 0.5 = 1000 (high); C2 300 (medium); C3 200 (low).
    assert [item["customer_id"] for item in body["items"]] == ["C1", "C2", "C3"]
    assert [item["tier"] for item in body["items"]] == ["high", "medium", "low"]
    assert [item["section"] for item in body["items"]] == ["today", "later", "today"]
    assert body["items"][0]["reasons"] == ["paid late before"]
    assert body["items"][0]["next_action"] == "courtesy call before due"
    assert (body["model_version"], body["total"], body["as_of"]) == ("7", 3, "2026-03-01")
    second = _get(service, "/v1/worklist", params={"page": 2, "page_size": 2}).json()
    assert [item["customer_id"] for item in second["items"]] == ["C3"]


def test_filters_and_unknown_values(service: tuple[TestClient, dict[str, str]]) -> None:
    body = _get(service, "/v1/worklist", params={"collector": "ann", "segment": "smb"}).json()
    assert [item["customer_id"] for item in body["items"]] == ["C2"]
    bad = _get(service, "/v1/worklist", params={"tier": "urgent"})
    assert bad.status_code == 422
    assert bad.json()["allowed"] == ["high", "low", "medium"]
    assert bad.json()["errors"][0]["field"] == "tier"
    assert "urgent" in bad.json()["detail"]


def test_csv_export_parses_back(service: tuple[TestClient, dict[str, str]]) -> None:
    for kwargs in ({"params": {"format": "csv"}}, {"headers": {"Accept": "text/csv"}}):
        response = _get(service, "/v1/worklist", **kwargs)
        assert response.status_code == 200
        assert response.headers["content-type"].startswith("text/csv")
        rows = list(csv.DictReader(io.StringIO(response.text)))
        assert [row["customer_id"] for row in rows] == ["C1", "C2", "C3"]
        assert float(rows[0]["amount_at_risk"]) == pytest.approx(1000.0)
        assert rows[0]["reasons"] == "paid late before"


def test_scope_is_checked(service: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = service
    assert client.get("/v1/worklist", headers=bearer(keys["score"])).status_code == 403
    assert client.get("/v1/kpis", headers=bearer(keys["ingest"])).status_code == 403


def _post(
    service: tuple[TestClient, dict[str, str]], customer: str, body: dict, key: str = "worklist"
) -> object:
    client, keys = service
    return client.post(f"/v1/customers/{customer}/activities", json=body, headers=bearer(keys[key]))


def _stored_activities(service: tuple[TestClient, dict[str, str]]) -> list[dict]:
    client, _ = service
    assert isinstance(client.app, FastAPI)
    table = SQL_TABLES["activities"]
    with client.app.state.store.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(sa.select(table))]


def test_promise_is_stored_with_author_and_snoozes(
    service: tuple[TestClient, dict[str, str]],
) -> None:
    promise = {"kind": "promise", "promised_date": "2026-03-08", "promised_amount": 1000}
    response = _post(service, "C2", promise)
    assert response.status_code == 201, response.text
    assert response.json()["created_by"] == "worklist-key"
    [stored] = _stored_activities(service)
    assert (stored["created_by"], stored["kind"], str(stored["date"])) == (
        "worklist-key",
        "promise",
        "2026-03-01",
    )
    assert stored["created_at"] is not None
    items = {i["customer_id"]: i for i in _get(service, "/v1/worklist").json()["items"]}
    assert (items["C2"]["section"], items["C2"]["snoozed_until"]) == ("snoozed", "2026-03-08")
    assert items["C2"]["next_action"] == "dunning block"


@pytest.mark.parametrize(
    ("body", "field"),
    [
        (
            {"kind": "promise", "promised_date": "2026-02-27", "promised_amount": 10},
            "promised_date",
        ),
        (
            {"kind": "promise", "promised_date": "2026-03-05", "promised_amount": 0},
            "promised_amount",
        ),
        ({"kind": "promise", "promised_amount": 5}, "promised_date"),
        ({"kind": "reassign"}, "collector"),
        ({"kind": "note", "invoice_id": "I1"}, "invoice_id"),  # C1's invoice, not C2's
        ({"kind": "visit"}, "kind"),
    ],
)
def test_invalid_actions_name_the_field_and_store_nothing(
    service: tuple[TestClient, dict[str, str]], body: dict, field: str
) -> None:
    response = _post(service, "C2", body)
    assert response.status_code == 422, response.text
    assert field in {error["field"] for error in response.json()["errors"]}
    assert _stored_activities(service) == []


def test_unknown_customer_is_404(service: tuple[TestClient, dict[str, str]]) -> None:
    assert _post(service, "C404", {"kind": "call"}).status_code == 404


def test_reassignment_by_an_ingest_key_moves_the_customer(
    service: tuple[TestClient, dict[str, str]],
) -> None:
    response = _post(service, "C3", {"kind": "reassign", "collector": "ann"}, key="ingest")
    assert response.status_code == 201, response.text
    assert response.json()["text"] == "ann"
    body = _get(service, "/v1/worklist", params={"collector": "ann"}).json()
    assert [item["customer_id"] for item in body["items"]] == ["C1", "C2", "C3"]
    assert [item["section"] for item in body["items"]] == ["today", "later", "later"]


def test_kpis(service: tuple[TestClient, dict[str, str]]) -> None:
    response = _get(service, "/v1/kpis", params={"as_of": "2026-03-01", "months": 2})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["currency_mode"] == "reporting"
    [current] = body["current"]
    assert current["receivable_amount"] == pytest.approx(8000 * 0.25 + 1000 + 2000)
    assert current["aging_current_amount"] == pytest.approx(2000.0)
    assert [row["as_of"] for row in body["trend"]] == ["2026-02-01", "2026-03-01"]
    assert body["worklist_effect"] is None and "no scores" in body["notice"]
    by_segment = _get(service, "/v1/kpis", params={"group_by": "segment", "per_currency": True})
    groups = {(row["currency"], row["group"]) for row in by_segment.json()["current"]}
    assert groups == {("ILS", "enterprise"), ("USD", "smb")}
    assert _get(service, "/v1/kpis", params={"group_by": "planet"}).status_code == 422


def test_no_scores_yet(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    client = client_for(service_settings())
    keys = keys_for(client)
    body = client.get("/v1/worklist", headers=bearer(keys["worklist"])).json()
    assert body["items"] == [] and "no stored scores" in body["notice"]
    assert json.dumps(body)  # plain JSON


def test_a_missing_exchange_rate_says_which_and_how(
    service: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = service
    assert isinstance(client.app, FastAPI)
    client.app.state.settings = client.app.state.settings.model_copy(update={"fx_rates": {}})
    response = client.get("/v1/worklist", headers=bearer(keys["worklist"]))
    assert response.status_code == 422
    assert "ILS" in response.json()["detail"] and "PAYRISK_FX_RATES" in response.json()["detail"]
    kpis = client.get("/v1/kpis", headers=bearer(keys["worklist"])).json()
    assert kpis["currency_mode"] == "per_currency"  # no rates: currencies kept apart


def _count_ledger_loads(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """Counts whole-ledger reads by the worklist's facts and the KPIs from now on."""
    from serving import kpi_reads, worklist_facts

    loads: list[int] = []
    for module, name in ((worklist_facts, "all_rows_in"), (kpi_reads, "read_whole_ledger")):
        original = getattr(module, name)

        def counted(*args: Any, original: Callable[..., Any] = original) -> Any:
            loads.append(1)
            return original(*args)

        monkeypatch.setattr(module, name, counted)
    return loads


def test_repeated_requests_do_not_reload_the_ledger_but_see_every_write(
    service: tuple[TestClient, dict[str, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    loads = _count_ledger_loads(monkeypatch)
    first = _get(service, "/v1/worklist").json()
    again = _get(service, "/v1/worklist", params={"collector": "ann"}).json()
    assert len(loads) == 1 and first["total"] == 3 and again["total"] == 2
    promise = {"kind": "promise", "promised_date": "2026-03-08", "promised_amount": 1000}
    assert _post(service, "C2", promise).status_code == 201
    items = {i["customer_id"]: i for i in _get(service, "/v1/worklist").json()["items"]}
    # the worklist recomputed C2's facts only: no second whole-ledger read
    assert items["C2"]["section"] == "snoozed" and len(loads) == 1

    params = {"as_of": "2026-03-01", "months": 2}
    before = _get(service, "/v1/kpis", params=params).json()["current"][0]
    assert _get(service, "/v1/kpis", params=params).json()["current"][0] == before
    assert len(loads) == 2
    # a payment written by another process (its own engine) is seen at once
    client, _ = service
    assert isinstance(client.app, FastAPI)
    other = LedgerStore.from_url(client.app.state.settings.resolved_database_url)
    payment = pd.DataFrame(
        {
            "payment_id": ["P1"],
            "customer_id": ["C2"],
            "invoice_id": ["I2"],
            "payment_date": pd.to_datetime(["2026-02-20"]),
            "amount": [400.0],
        }
    )
    ledger = _ledger()
    other.upsert(
        Ledger.from_frames(customers=ledger.customers, invoices=ledger.invoices, payments=payment)
    )
    other.dispose()
    after = _get(service, "/v1/kpis", params=params).json()["current"][0]
    assert after["receivable_amount"] == pytest.approx(before["receivable_amount"] - 400.0)
    assert len(loads) == 3
