"""Ledger ingest over HTTP: idempotent upserts, all-or-nothing batches, limits, bad input."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pandas as pd
import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger import migrations
from ledger.contract import TABLES
from ledger.frames import Ledger
from payrisk.settings import Settings
from serving.schemas.ledger import RECORD_MODELS, SINGLE_MODELS

CUSTOMER = {"name": "Galil Foods", "country": "IL", "currency": "ILS", "credit_limit": 5000.0}
INVOICE = {
    "customer_id": "c1",
    "issue_date": "2026-01-05",
    "due_date": "2026-02-04",
    "amount": 1200.0,
    "terms": "net30",
    "disputed": False,
}


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


@pytest.fixture
def ingest(client: TestClient, keys: dict[str, str]) -> Callable[..., Any]:
    """``ingest(method, path, json=...)`` with the ingest key."""

    def call(method: str, path: str, **kwargs: Any) -> Any:
        headers = bearer(keys["ingest"]) | kwargs.pop("headers", {})
        return client.request(method, path, headers=headers, **kwargs)

    return call


def _stored(client: TestClient) -> Ledger:
    assert isinstance(client.app, FastAPI)
    ledger: Ledger = client.app.state.store.load()
    return ledger


def _row_counts(ledger: Ledger) -> dict[str, int]:
    return {name: len(frame) for name, frame in ledger.tables().items()}


@pytest.fixture
def db_client(
    database_url: str,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """A started app on SQLite, then on PostgreSQL, with its keys."""
    started = client_for(service_settings(database_url=database_url))
    yield started, keys_for(started)


def test_the_same_put_twice_leaves_the_same_state(
    db_client: tuple[TestClient, dict[str, str]],
) -> None:
    client, keys = db_client
    headers = bearer(keys["ingest"])
    first = client.put("/v1/customers/c1", json=CUSTOMER, headers=headers)
    after_first = _stored(client)
    second = client.put("/v1/customers/c1", json=CUSTOMER, headers=headers)
    invoice = client.put("/v1/invoices/i1", json=INVOICE, headers=headers)
    invoice_again = client.put("/v1/invoices/i1", json=INVOICE, headers=headers)

    assert (first.status_code, second.status_code) == (200, 200)
    assert first.json() == second.json()
    assert first.json()["customer_id"] == "c1"
    after = _stored(client)
    pd.testing.assert_frame_equal(after.customers, after_first.customers)
    assert (invoice.status_code, invoice_again.status_code) == (200, 200)
    assert after.invoices[["invoice_id", "customer_id", "amount"]].to_dict("records") == [
        {"invoice_id": "i1", "customer_id": "c1", "amount": 1200.0}
    ]
    assert bool(after.invoices.loc[0, "disputed"]) is False
    assert pd.isna(after.invoices.loc[0, "paid_date"])


def test_a_put_replaces_the_whole_row(ingest: Callable[..., Any], client: TestClient) -> None:
    ingest("PUT", "/v1/customers/c1", json=CUSTOMER)
    replaced = ingest("PUT", "/v1/customers/c1", json={"customer_id": "c1", "name": "Galil"})
    customers = _stored(client).customers
    assert replaced.status_code == 200
    assert customers.loc[0, "name"] == "Galil"
    assert pd.isna(customers.loc[0, "country"]) and pd.isna(customers.loc[0, "credit_limit"])


def test_a_body_id_other_than_the_path_id_is_refused(
    ingest: Callable[..., Any], client: TestClient
) -> None:
    response = ingest("PUT", "/v1/customers/c1", json={**CUSTOMER, "customer_id": "c2"})
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "customer_id"
    assert "'c2' differs from the path's 'c1'" in response.json()["detail"]
    assert _row_counts(_stored(client))["customers"] == 0


def test_rule_violations_are_422_per_value_and_store_nothing(
    ingest: Callable[..., Any], client: TestClient
) -> None:
    bad = {**INVOICE, "customer_id": "ghost", "amount": -5.0, "due_date": "2025-12-31"}
    response = ingest("PUT", "/v1/invoices/i1", json=bad)
    assert response.status_code == 422
    assert response.json()["detail"] == "1 row(s) rejected; nothing was stored"
    assert response.json()["errors"] == [
        {
            "table": "invoices",
            "index": 0,
            "field": "amount",
            "value": "-5",
            "reason": "must be > 0",
        },
        {
            "table": "invoices",
            "index": 0,
            "field": "customer_id",
            "value": "ghost",
            "reason": "refers to customer 'ghost', which is not in customers nor in the database",
        },
        {
            "table": "invoices",
            "index": 0,
            "field": "due_date",
            "value": "2025-12-31",
            "reason": "due_date is before issue_date (issue_date is 2026-01-05)",
        },
    ]
    assert _row_counts(_stored(client))["invoices"] == 0


def _batch(invoice_amounts: list[float]) -> dict[str, Any]:
    invoices = [
        {**INVOICE, "invoice_id": f"i{n}", "amount": amount}
        for n, amount in enumerate(invoice_amounts)
    ]
    payment = {
        "payment_id": "p0",
        "customer_id": "c1",
        "invoice_id": "i0",
        "payment_date": "2026-02-01",
        "amount": 100.0,
    }
    activity = {"activity_id": "a0", "customer_id": "c1", "date": "2026-02-06", "kind": "call"}
    return {
        "customers": [{**CUSTOMER, "customer_id": "c1"}],
        "invoices": invoices,
        "payments": [payment],
        "activities": [activity],
    }


def test_a_batch_is_all_or_nothing(db_client: tuple[TestClient, dict[str, str]]) -> None:
    client, keys = db_client
    headers = bearer(keys["ingest"])
    bad = _batch([100.0, 0.0, 300.0])
    bad["activities"][0]["kind"] = "visit"
    rejected = client.post("/v1/ledger/batch", json=bad, headers=headers)

    assert rejected.status_code == 422
    errors = [(e["table"], e["index"], e["field"]) for e in rejected.json()["errors"]]
    assert errors == [("invoices", 1, "amount"), ("activities", 0, "kind")]
    assert rejected.json()["detail"] == "2 row(s) rejected; nothing was stored"
    assert _row_counts(_stored(client)) == dict.fromkeys(TABLES, 0)

    accepted = client.post("/v1/ledger/batch", json=_batch([100.0, 200.0]), headers=headers)
    again = client.post("/v1/ledger/batch", json=_batch([100.0, 200.0]), headers=headers)
    rows = {"customers": 1, "invoices": 2, "payments": 1, "activities": 1}
    assert accepted.status_code == 200 and accepted.json() == {"rows": rows}
    assert again.json() == {"rows": rows}
    assert _row_counts(_stored(client)) == rows


def test_rows_may_refer_to_stored_rows(ingest: Callable[..., Any], client: TestClient) -> None:
    assert isinstance(client.app, FastAPI)
    stored = Ledger.from_frames(customers=pd.DataFrame({"customer_id": ["c1"]}))
    client.app.state.store.upsert(stored)
    invoice = ingest("PUT", "/v1/invoices/i1", json=INVOICE)
    payment = ingest(
        "PUT",
        "/v1/payments/p1",
        json={"customer_id": "c1", "invoice_id": "i1", "payment_date": "2026-02-03", "amount": 5},
    )
    activity = ingest(
        "POST",
        "/v1/activities",
        json={"activity_id": "a1", "customer_id": "c1", "date": "2026-02-06", "kind": "promise"},
    )
    assert [invoice.status_code, payment.status_code, activity.status_code] == [200, 200, 200]
    assert payment.json()["payment_id"] == "p1"
    assert _row_counts(_stored(client)) == {
        "customers": 1,
        "invoices": 1,
        "payments": 1,
        "activities": 1,
    }


def test_a_batch_over_the_row_limit_is_413(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    client = client_for(service_settings(max_batch_rows=3))
    response = client.post(
        "/v1/ledger/batch", json=_batch([1.0, 2.0]), headers=bearer(keys_for(client)["ingest"])
    )
    assert response.status_code == 413
    assert response.json()["rows"] == 5 and response.json()["max_batch_rows"] == 3
    assert _row_counts(_stored(client))["customers"] == 0


def test_a_body_over_the_size_limit_is_413(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    client = client_for(service_settings(max_body_bytes=2048))
    headers = bearer(keys_for(client)["ingest"]) | {"Content-Type": "application/json"}
    big = {**CUSTOMER, "name": "x" * 3000}
    declared = client.put("/v1/customers/c1", json=big, headers=headers)
    # Without a Content-Length (chunked upload) the limit applies while reading.
    streamed = client.put(
        "/v1/customers/c1", content=iter([b'{"name": "', b"y" * 3000, b'"}']), headers=headers
    )
    small = client.put("/v1/customers/c1", json=CUSTOMER, headers=headers)
    assert (declared.status_code, streamed.status_code, small.status_code) == (413, 413, 200)
    assert declared.json() == {
        "detail": "request body larger than 2048 bytes",
        "max_body_bytes": 2048,
    }
    assert streamed.headers["content-type"] == "application/json"


@pytest.mark.parametrize(
    ("body", "field", "kind"),
    [
        ({**INVOICE, "amount": "abc"}, "amount", "float_parsing"),
        ({**INVOICE, "issue_date": "2026-02-30"}, "issue_date", "date_from_datetime_parsing"),
        ({**INVOICE, "due_date": "3000-01-01"}, "due_date", "less_than_equal"),
        ({**INVOICE, "ammount": 5}, "ammount", "extra_forbidden"),
        ({key: v for key, v in INVOICE.items() if key != "customer_id"}, "customer_id", "missing"),
        ({**INVOICE, "customer_id": "a\x00b"}, "customer_id", "value_error"),
        ({**INVOICE, "disputed": "maybe"}, "disputed", "bool_parsing"),
    ],
)
def test_wrong_types_are_422_naming_the_field(
    ingest: Callable[..., Any], body: dict[str, Any], field: str, kind: str
) -> None:
    response = ingest("PUT", "/v1/invoices/i1", json=body)
    assert response.status_code == 422
    [error] = response.json()["errors"]
    assert (error["field"], error["type"]) == (field, kind)
    assert error["reason"]


def test_text_a_database_cannot_store_is_422(ingest: Callable[..., Any]) -> None:
    nul_in_path = ingest("PUT", "/v1/customers/a%00b", json=CUSTOMER)
    surrogate = ingest(
        "PUT",
        "/v1/customers/c1",
        content=b'{"name": "\\ud800"}',
        headers={"Content-Type": "application/json"},
    )
    assert nul_in_path.status_code == 422
    assert nul_in_path.json()["errors"][0]["field"] == "customer_id"
    assert surrogate.status_code == 422
    assert surrogate.json()["errors"][0]["field"] == "name"


def test_errors_inside_a_batch_name_table_row_and_field(ingest: Callable[..., Any]) -> None:
    body = _batch([1.0, 2.0])
    body["invoices"][1]["amount"] = "lots"
    response = ingest("POST", "/v1/ledger/batch", json=body)
    assert response.status_code == 422
    assert response.json()["errors"][0]["field"] == "invoices.1.amount"
    assert response.json()["errors"][0]["loc"] == ["body", "invoices", 1, "amount"]


@pytest.mark.parametrize(
    ("content", "reason"),
    [
        (b'{"name": "unterminated', "malformed JSON"),
        (b'{"credit_limit": NaN}', "finite number"),
        (b"[1, 2]", "valid dictionary"),
    ],
)
def test_malformed_json_is_422(ingest: Callable[..., Any], content: bytes, reason: str) -> None:
    response = ingest(
        "PUT", "/v1/customers/c1", content=content, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 422
    assert reason in response.json()["errors"][0]["reason"]


def test_the_pydantic_models_cover_exactly_the_contract_columns() -> None:
    for table_name, table in TABLES.items():
        for models in (RECORD_MODELS, SINGLE_MODELS):
            assert set(models[table_name].model_fields) == set(table.column_names), table_name
        record = RECORD_MODELS[table_name].model_fields
        required = {name for name, info in record.items() if info.is_required()}
        assert required == set(table.required_names), table_name


def test_an_unreachable_database_is_503(
    service_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> None:
    url = "postgresql+psycopg://postgres@127.0.0.1:1/nowhere?connect_timeout=2"
    client = client_for(service_settings(database_url=url))
    ready = client.get("/readyz")
    response = client.put("/v1/customers/c1", json=CUSTOMER, headers=bearer("prk_any"))
    assert ready.status_code == 503
    assert ready.json()["database"]["ok"] is False
    assert response.status_code == 503
    assert response.json() == {"detail": "the ledger database is unavailable; try again later"}
    assert response.headers["Retry-After"] == "5"


def test_an_unmigrated_database_is_503_not_500(
    service_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> None:
    client = client_for(service_settings(migrate_on_start=False))
    ready = client.get("/readyz")
    response = client.put("/v1/customers/c1", json=CUSTOMER, headers=bearer("prk_any"))
    expected = f"schema revision is none, this payrisk needs {migrations.head_revision()}"
    assert ready.json()["database"]["error"] == expected
    assert response.status_code == 503
