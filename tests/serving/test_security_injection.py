"""Hostile filter, sort and paging values cannot reach SQL: 422 or ignored, tables intact.

Every filter, sort and paging parameter of ``GET /v1/worklist``, the worklist page and
``GET /v1/kpis`` gets SQL-injection strings, a NUL byte and odd unicode, on SQLite and on
a real PostgreSQL. The API answers 422 naming the field; the page ignores the value with
a notice (filters) or falls back to its default with a notice (sort, order, paging).
Afterwards every table has exactly the rows it had before.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.db_schema import metadata
from ledger.frames import Ledger
from ledger.scores_store import write_scores
from payrisk.settings import Settings
from serving.auth import create_key

HOSTILE = (
    "' OR 1=1 --",
    "'; DROP TABLE customers; --",
    "1); DELETE FROM invoices WHERE (1=1",
    "ann' UNION SELECT key_hash FROM api_keys --",
    "\x00",
    "\u05e9\u05dc\u05d5\u05dd \u202e'; --",  # Hebrew and a right-to-left override
    "\U0001d552\U0001d55f\U0001d55f \u00a9",  # look-alike letters of "ann"
)
FILTERS = ("collector", "tier", "segment", "currency", "country")
Service = tuple[TestClient, dict[str, str]]


def _ledger() -> Ledger:
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2"],
            "name": ["Alef", "Bet"],
            "segment": ["smb", "enterprise"],
            "country": ["IL", "US"],
            "currency": ["USD", "USD"],
            "collector": ["ann", "bob"],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2"],
            "customer_id": ["C1", "C2"],
            "issue_date": pd.to_datetime(["2026-01-01", "2026-01-05"]),
            "due_date": pd.to_datetime(["2026-02-01", "2026-02-05"]),
            "amount": [1000.0, 3000.0],
            "currency": ["USD", "USD"],
        }
    )
    return Ledger.from_frames(customers=customers, invoices=invoices)


def _scores() -> pd.DataFrame:
    reasons = {"method": "path", "en": [{"text": "paid late before"}], "he": []}
    return pd.DataFrame(
        {
            "model_name": "payment-risk",
            "model_version": "1",
            "as_of": pd.Timestamp(datetime.now(UTC).date()),
            "invoice_id": ["I1", "I2"],
            "customer_id": ["C1", "C2"],
            "open_amount": [1000.0, 3000.0],
            "currency": ["USD", "USD"],
            "bucket_probabilities": [{"on_time": 0.5}] * 2,
            "p_late": [0.6, 0.4],
            "p_over_30": [0.5, 0.2],
            "expected_days_late": [10.0, 4.0],
            "predicted_payment_date": pd.Timestamp("2026-03-20"),
            "reasons": [reasons] * 2,
        }
    )


@pytest.fixture
def service(
    database_url: str,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
) -> Service:
    settings = service_settings(database_url=database_url, session_cookie_secure=False)
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    store = client.app.state.store
    store.upsert(_ledger())
    write_scores(store, _scores())
    return client, {"worklist": create_key(store, "manager", ["worklist"]).key}


def _row_counts(client: TestClient) -> dict[str, int]:
    assert isinstance(client.app, FastAPI)
    with client.app.state.store.engine.connect() as connection:
        return {
            name: int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar())
            for name, table in metadata.tables.items()
        }


def _api(client: TestClient, key: str, path: str, params: dict[str, str]) -> object:
    return client.get(path, params=params, headers={"Authorization": f"Bearer {key}"})


def test_api_filters_and_paging_refuse_hostile_values_with_422(service: Service) -> None:
    client, keys = service
    before = _row_counts(client)
    assert before["customers"] == 2 and before["scores"] == 2
    for value in HOSTILE:
        for name in (*FILTERS, "page", "page_size", "as_of", "format"):
            response = _api(client, keys["worklist"], "/v1/worklist", {name: value})
            assert response.status_code == 422, (name, value, response.text)  # type: ignore[attr-defined]
            fields = {error["field"] for error in response.json()["errors"]}  # type: ignore[attr-defined]
            assert fields == {name}, (name, value, fields)
    assert _row_counts(client) == before
    # The data is still all there and still answers.
    listed = _api(client, keys["worklist"], "/v1/worklist", {"collector": "ann"})
    assert [item["customer_id"] for item in listed.json()["items"]] == ["C1"]  # type: ignore[attr-defined]


def test_kpi_parameters_refuse_hostile_values_with_422(service: Service) -> None:
    client, keys = service
    before = _row_counts(client)
    for value in HOSTILE:
        for name in ("as_of", "group_by", "months", "per_currency"):
            response = _api(client, keys["worklist"], "/v1/kpis", {name: value})
            assert response.status_code == 422, (name, value, response.text)  # type: ignore[attr-defined]
    assert _row_counts(client) == before
    assert _api(client, keys["worklist"], "/v1/kpis", {}).status_code == 200  # type: ignore[attr-defined]


def _sign_in(client: TestClient, key: str) -> None:
    page = client.get("/signin").text
    found = re.search(r'name="csrf" value="([^"]+)"', page)
    assert found is not None
    response = client.post(
        "/signin", data={"key": key, "csrf": found.group(1)}, follow_redirects=False
    )
    assert response.status_code == 303


def _shown_customers(html: str) -> list[str]:
    body = html.split('id="worklist"', 1)[1].split("</table>", 1)[0]
    return re.findall(r'<tr data-customer="([^"]+)"', body)


def test_the_worklist_page_ignores_hostile_filters_with_a_notice(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    before = _row_counts(client)
    everyone = _shown_customers(client.get("/worklist").text)
    assert sorted(everyone) == ["C1", "C2"]
    for value in HOSTILE:
        for name in FILTERS:
            response = client.get("/worklist", params={name: value})
            assert response.status_code == 200, (name, value)
            assert "Ignored the filter" in response.text, (name, value)
            assert _shown_customers(response.text) == everyone
        csv = client.get("/worklist.csv", params={"collector": value})
        assert csv.status_code == 200 and csv.text.count("\n") == 3  # header + 2 customers
    assert _row_counts(client) == before


def test_the_worklist_page_falls_back_on_hostile_sort_order_and_paging(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    before = _row_counts(client)
    everyone = _shown_customers(client.get("/worklist").text)
    for value in HOSTILE:
        for name in ("sort", "order", "page", "page_size"):
            response = client.get("/worklist", params={name: value})
            assert response.status_code == 200, (name, value)
            assert _shown_customers(response.text) == everyone, (name, value)
            assert f"Ignored {name} = " in response.text, (name, value)
    assert _row_counts(client) == before


def test_a_hostile_customer_id_in_the_path_is_a_404_page(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    before = _row_counts(client)
    for value in HOSTILE[:4]:
        response = client.get("/customers/" + value.replace("/", "%2F"))
        assert response.status_code == 404, value
    assert _row_counts(client) == before
