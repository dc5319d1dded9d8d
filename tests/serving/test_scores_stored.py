"""Stored-mode scoring over HTTP against the real app, a real MLflow store, SQLite and
PostgreSQL: many customers answer like one; ingest -> score -> promote -> reload -> the
new version answers; 404 / 422 on bad input; scores counted by tier; the answer cache
(hit or miss, until the customer's rows change, also through another worker); the
request path's rows -> frames.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.contract import TABLES
from ledger.db_schema import SQL_TABLES
from models.registry import CHAMPION_ALIAS, set_alias
from payrisk.settings import Settings
from serving.routes.scores import CACHE_HEADER
from tests.serving.conftest import AS_OF, _backdate, bearer, customer_slice, records

RegisterCopy = Callable[..., tuple[str, str]]


def test_many_customers_answer_like_one_and_list_unknown_ids(
    scoring: tuple[TestClient, dict[str, str]], chosen: list[str]
) -> None:
    client, keys = scoring
    headers = bearer(keys["score"])
    body = {"customer_ids": [chosen[1], "nobody", chosen[0], chosen[1]], "as_of": AS_OF}
    many = client.post("/v1/scores", json=body, headers=headers)
    one = client.get(f"/v1/customers/{chosen[0]}/risk", params={"as_of": AS_OF}, headers=headers)

    assert many.status_code == 200, many.text
    answer = many.json()
    assert [row["customer_id"] for row in answer["customers"]] == [chosen[1], chosen[0]]
    alone, together = one.json()["customer"], answer["customers"][1]
    # the share is a ratio of sums: equal up to the last bit whatever is scored beside it
    assert together.pop("expected_share_over_30") == pytest.approx(
        alone.pop("expected_share_over_30"), rel=1e-12
    )
    assert together == alone
    assert answer["errors"] == [
        {"customer_id": "nobody", "status": 404, "detail": "not in the ledger"}
    ]


def test_ingest_score_promote_reload_and_the_new_version_answers(
    database_url: str,
    registry: Any,
    chosen: list[str],
    register_copy: RegisterCopy,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    name, first = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, first)
    client = client_for(
        service_settings(
            database_url=database_url,
            mlflow_tracking_uri=registry.tracking_uri,
            registered_model_name=name,
        )
    )
    keys = keys_for(client)
    part = customer_slice(registry.ledger, chosen[:1])
    batch = {name: records(frame) for name, frame in part.tables().items()}
    ingested = client.post("/v1/ledger/batch", json=batch, headers=bearer(keys["ingest"]))
    assert ingested.status_code == 200, ingested.text

    url, params = f"/v1/customers/{chosen[0]}/risk", {"as_of": AS_OF}
    before = client.get(url, params=params, headers=bearer(keys["score"]))
    _, second = register_copy()
    set_alias(registry.client(), name, CHAMPION_ALIAS, second)
    reloaded = client.post("/v1/model:reload", headers=bearer(keys["admin"]))
    after = client.get(url, params=params, headers=bearer(keys["score"]))

    assert before.json()["model"] == {"name": name, "version": first}
    assert reloaded.status_code == 200, reloaded.text
    assert reloaded.json()["outcome"] == "loaded"
    assert (reloaded.json()["previous_version"], reloaded.json()["serving_version"]) == (
        first,
        second,
    )
    assert after.json()["model"] == {"name": name, "version": second}
    # same model file, so the same numbers under the new version
    assert after.json()["customer"] == before.json()["customer"]


def test_unknown_customer_bad_as_of_and_lang_are_4xx(
    scoring: tuple[TestClient, dict[str, str]], chosen: list[str]
) -> None:
    client, keys = scoring
    headers = bearer(keys["score"])
    url = f"/v1/customers/{chosen[0]}/risk"

    unknown = client.get("/v1/customers/nobody/risk", headers=headers)
    too_early = client.get(url, params={"as_of": "2001-01-01"}, headers=headers)
    too_late = client.get(url, params={"as_of": "2999-01-01"}, headers=headers)
    year_one = client.get(url, params={"as_of": "0001-01-01"}, headers=headers)
    malformed = client.get(url, params={"as_of": "2026-13-01"}, headers=headers)
    bad_lang = client.get(url, params={"lang": "fr"}, headers=headers)
    hebrew = client.get(url, params={"as_of": AS_OF, "lang": "he"}, headers=headers)

    assert unknown.status_code == 404
    assert unknown.json()["detail"] == "no customer 'nobody' in the ledger"
    assert too_early.status_code == 422
    assert "before any of the data" in too_early.json()["detail"]
    assert too_late.status_code == 422 and "days after today" in too_late.json()["detail"]
    assert year_one.status_code == 422
    assert malformed.status_code == 422 and malformed.json()["errors"][0]["field"] == "as_of"
    assert bad_lang.status_code == 422 and bad_lang.json()["errors"][0]["field"] == "lang"
    reason_text = hebrew.json()["customer"]["invoices"][0]["reasons"][0]["text"]
    assert any("\u0590" <= character <= "\u05ff" for character in reason_text)


def test_scores_are_counted_by_tier(
    scoring: tuple[TestClient, dict[str, str]], chosen: list[str]
) -> None:
    client, keys = scoring
    body = {"customer_ids": chosen, "as_of": AS_OF}
    answer = client.post("/v1/scores", json=body, headers=bearer(keys["score"])).json()
    exposition = client.get("/metrics").text
    tiers = pd.Series([row["risk_tier"] for row in answer["customers"]]).value_counts()
    for tier, count in tiers.items():
        assert f'payrisk_scores_total{{tier="{tier}"}} {float(count)}' in exposition


def test_a_repeated_question_is_answered_from_the_cache_until_the_rows_change(
    scoring: tuple[TestClient, dict[str, str]], registry: Any, chosen: list[str]
) -> None:
    client, keys = scoring
    assert isinstance(client.app, FastAPI)
    url, params = f"/v1/customers/{chosen[0]}/risk", {"as_of": AS_OF}
    on_sqlite = client.app.state.store.dialect_name == "sqlite"
    first = client.get(url, params=params, headers=bearer(keys["score"]))
    client.get(url, params=params, headers=bearer(keys["score"]))
    cache = client.app.state.score_cache
    if on_sqlite:  # rows written within the clock's second (the fixture's) are not settled
        assert (cache.hits, cache.misses, len(cache)) == (0, 0, 0)
        _backdate(client, chosen[0], datetime(2020, 1, 1))
        client.get(url, params=params, headers=bearer(keys["score"]))
    # PostgreSQL: settled as soon as no writer that began before them is open
    assert (cache.hits, cache.misses, len(cache)) == (int(not on_sqlite), 1, 1)
    again = client.get(url, params=params, headers=bearer(keys["score"]))
    assert (cache.hits, cache.misses, len(cache)) == (1 + int(not on_sqlite), 1, 1)
    assert again.json() == first.json()
    # the header says where each answer came from
    assert (first.headers[CACHE_HEADER], again.headers[CACHE_HEADER]) == ("miss", "hit")
    hits, misses = cache.hits, cache.misses

    # a new open invoice of the customer: its revision changed, so it is scored afresh
    invoice = {
        "customer_id": chosen[0],
        "issue_date": "2026-11-20",
        "due_date": "2026-12-20",
        "amount": 1234.5,
    }
    put = client.put("/v1/invoices/INV-NEW-1", json=invoice, headers=bearer(keys["ingest"]))
    changed = client.get(url, params=params, headers=bearer(keys["score"]))
    assert put.status_code == 200, put.text
    # SQLite: unsettled, not even looked up; PostgreSQL: looked up under the new revision
    assert (cache.hits, cache.misses) == (hits, misses + int(not on_sqlite))
    assert (
        changed.json()["customer"]["open_invoices"] == first.json()["customer"]["open_invoices"] + 1
    )
    assert changed.headers[CACHE_HEADER] == "miss"


def test_an_ingest_in_another_worker_changes_the_cached_answer(
    scoring: tuple[TestClient, dict[str, str]],
    chosen: list[str],
    client_for: Callable[[Settings], TestClient],
) -> None:
    """Two apps on one database (two workers): a change of an existing invoice made
    through one, even one that keeps the number of rows, is seen by the other's cache."""
    worker, keys = scoring
    other = client_for(worker.app.state.settings)  # type: ignore[attr-defined]
    customer_id = chosen[0]
    url, params = f"/v1/customers/{customer_id}/risk", {"as_of": AS_OF}
    _backdate(worker, customer_id, datetime(2020, 1, 1))
    before = worker.get(url, params=params, headers=bearer(keys["score"])).json()
    assert worker.get(url, params=params, headers=bearer(keys["score"])).json() == before
    cache = worker.app.state.score_cache  # type: ignore[attr-defined]
    assert (cache.hits, cache.misses) == (1, 1)

    # the riskiest open invoice is paid (as of the scored date), through the other worker
    paid = before["customer"]["invoices"][0]
    stored = worker.app.state.store.load().invoices.set_index("invoice_id")  # type: ignore[attr-defined]
    row = records(stored.loc[[paid["invoice_id"]]].reset_index())[0]
    body = {key: value for key, value in row.items() if key != "invoice_id"}
    put = other.put(
        f"/v1/invoices/{paid['invoice_id']}",
        json=body | {"paid_date": AS_OF},
        headers=bearer(keys["ingest"]),
    )
    assert put.status_code == 200, put.text
    # settled again, later than before: only the newest change moved
    _backdate(worker, customer_id, datetime(2020, 1, 1))
    store = worker.app.state.store  # type: ignore[attr-defined]
    with store.engine.begin() as connection:
        table = SQL_TABLES["invoices"]
        connection.execute(
            sa.update(table)
            .where(table.c.invoice_id == paid["invoice_id"])
            .values(updated_at=datetime(2021, 1, 1))
        )
    after = worker.get(url, params=params, headers=bearer(keys["score"])).json()
    assert (cache.hits, cache.misses) == (1, 2)
    assert after["customer"]["open_invoices"] == before["customer"]["open_invoices"] - 1
    assert paid["invoice_id"] not in [row["invoice_id"] for row in after["customer"]["invoices"]]


def test_fetched_rows_become_the_same_frames_as_the_store_makes(
    scoring: tuple[TestClient, dict[str, str]], chosen: list[str]
) -> None:
    """The request path's quick row -> frame conversion equals the store's generic one,
    dtypes and missing values included (and for a customer with no rows at all)."""
    from ledger.db_schema import frame_from_rows
    from serving.ledger_reads import read_customer_rows, typed_frame

    client, _ = scoring
    store = client.app.state.store  # type: ignore[attr-defined]
    for ids in (chosen, ["nobody"]):
        fetched = read_customer_rows(store, ids)
        for name, rows in fetched.tables.items():
            quick = typed_frame(TABLES[name], rows)
            pd.testing.assert_frame_equal(quick, frame_from_rows(TABLES[name], list(rows)))
            assert (len(quick) > 0) == (ids is chosen)  # the chosen have rows in every table
