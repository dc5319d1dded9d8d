"""Scoring over HTTP against the real app, a real MLflow store, SQLite and PostgreSQL.

Stored == stateless == the whole-ledger batch for the same history; ingest -> score ->
promote -> reload -> the new version answers; the refresh stores rows with the version;
404 / 413 / 422 on bad input; the scoring core's open-invoice and as-of rules on tiny
inline ledgers.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import date, datetime
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.contract import TABLES
from ledger.db_schema import SQL_TABLES
from ledger.frames import Ledger
from ledger.scores_store import count_scores, read_latest_scores
from models.registry import CHAMPION_ALIAS, set_alias
from models.rollup import RiskTiers
from payrisk.settings import Settings
from serving.scoring import (
    AsOfOutOfRange,
    check_as_of,
    open_invoice_rows,
    rollup_customers,
    score_ledger,
)

AS_OF = "2026-11-30"
RegisterCopy = Callable[..., tuple[str, str]]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def customer_slice(ledger: Ledger, customer_ids: list[str]) -> Ledger:
    """The rows of some customers, in every table."""
    return Ledger(
        **{
            name: frame[frame["customer_id"].isin(customer_ids)].reset_index(drop=True)
            for name, frame in ledger.tables().items()
        }
    )


def records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """A frame as JSON rows: ISO dates, null for missing."""
    rows = frame.astype(object).where(frame.notna(), None).to_dict("records")
    return [
        {
            key: value.date().isoformat() if isinstance(value, pd.Timestamp) else value
            for key, value in row.items()
        }
        for row in rows
    ]


def history_body(ledger: Ledger, customer_id: str, **extra: Any) -> dict[str, Any]:
    """The stateless request for one customer of ``ledger``."""
    part = customer_slice(ledger, [customer_id])
    return {
        "customer": records(part.customers)[0],
        "invoices": records(part.invoices),
        "payments": records(part.payments),
        "activities": records(part.activities),
        **extra,
    }


@pytest.fixture(scope="module")
def chosen(registry: Any) -> list[str]:
    """Three customers of the session ledger with open invoices, payments and activities."""
    ledger: Ledger = registry.ledger
    open_ids = open_invoice_rows(ledger, pd.Timestamp(AS_OF))["invoice_id"]
    open_counts = ledger.invoices[ledger.invoices["invoice_id"].isin(open_ids)]["customer_id"]
    busy = set(ledger.activities["customer_id"]) & set(ledger.payments["customer_id"])
    ranked = open_counts[open_counts.isin(busy)].value_counts().index.tolist()
    assert len(ranked) >= 3
    return [str(customer_id) for customer_id in ranked[:3]]


@pytest.fixture
def scoring(
    database_url: str,
    registry: Any,
    chosen: list[str],
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> Iterator[tuple[TestClient, dict[str, str]]]:
    """The app serving the session champion, its ledger holding the chosen customers."""
    settings = service_settings(
        database_url=database_url, mlflow_tracking_uri=registry.tracking_uri
    )
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    client.app.state.store.upsert(customer_slice(registry.ledger, chosen))
    yield client, keys_for(client)


def test_stored_equals_stateless_equals_the_whole_ledger_batch(
    scoring: tuple[TestClient, dict[str, str]], registry: Any, chosen: list[str]
) -> None:
    client, keys = scoring
    customer_id = chosen[0]
    stored = client.get(
        f"/v1/customers/{customer_id}/risk", params={"as_of": AS_OF}, headers=bearer(keys["score"])
    )
    stateless = client.post(
        "/v1/scores:stateless",
        json=history_body(registry.ledger, customer_id, as_of=AS_OF),
        headers=bearer(keys["score"]),
    )
    assert stored.status_code == 200, stored.text
    assert stateless.status_code == 200, stateless.text
    assert stored.json() == stateless.json()

    answer = stored.json()
    assert answer["model"] == {"name": "payment-risk", "version": registry.version}
    # live reasons are the refresh's path attributions (settings.score_reasons_method)
    assert (answer["as_of"], answer["reasons_method"]) == (AS_OF, "path")
    customer = answer["customer"]
    invoices = customer["invoices"]
    assert customer["open_invoices"] == len(invoices) >= 1
    assert len(invoices[0]["reasons"]) == 3
    assert sum(invoices[0]["bucket_probabilities"].values()) == pytest.approx(1.0)

    # The customer's slice gives the same numbers as scoring the whole ledger at once.
    whole = score_ledger(
        client.app.state.holder.current().model,  # type: ignore[union-attr]
        registry.ledger,
        pd.Timestamp(AS_OF),
        [customer_id],
        method="path",
    )
    mine = whole.invoices[whole.invoices["customer_id"] == customer_id]
    assert [row["invoice_id"] for row in invoices] == mine["invoice_id"].tolist()
    # ... and the same reasons as the whole-ledger batch (the refresh) gives
    first = int(mine.index[0])
    assert [(r["feature"], r["contribution"]) for r in invoices[0]["reasons"]] == [
        (reason.feature, pytest.approx(reason.contribution, rel=1e-9))
        for reason in whole.reasons["en"][first]
    ]
    assert [row["p_over_30"] for row in invoices] == pytest.approx(mine["p_over_30"].tolist())
    assert customer["expected_amount_over_30"] == pytest.approx(
        float(whole.customers["expected_amount_over_30"].iloc[0])
    )


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


def test_refresh_stores_every_open_invoice_with_the_version(
    scoring: tuple[TestClient, dict[str, str]], registry: Any, chosen: list[str]
) -> None:
    client, keys = scoring
    assert isinstance(client.app, FastAPI)
    store = client.app.state.store
    headers = bearer(keys["admin"])
    first = client.post("/v1/scores:refresh", json={"as_of": AS_OF}, headers=headers)
    second = client.post("/v1/scores:refresh", json={"as_of": AS_OF}, headers=headers)

    assert first.status_code == 200, first.text
    result = first.json()
    open_rows = open_invoice_rows(customer_slice(registry.ledger, chosen), pd.Timestamp(AS_OF))
    assert result["invoices_scored"] == len(open_rows) == second.json()["invoices_scored"]
    assert result["customers_scored"] == 3
    assert result["reasons_method"] == "path"
    assert set(result["seconds"]) >= {"load", "features", "predict", "reasons", "store", "total"}
    assert count_scores(store) == 2 * len(open_rows)

    latest = read_latest_scores(store)
    assert len(latest) == len(open_rows)
    assert sorted(latest["invoice_id"]) == sorted(open_rows["invoice_id"])
    assert set(latest["model_version"]) == {registry.version}
    assert latest["scored_at"].nunique() == 1
    assert latest["scored_at"].iloc[0] == pd.Timestamp(second.json()["scored_at"])
    assert latest["as_of"].iloc[0] == pd.Timestamp(AS_OF)
    reasons = latest["reasons"].iloc[0]
    assert reasons["method"] == "path" and len(reasons["en"]) == len(reasons["he"]) == 3
    assert sum(latest["bucket_probabilities"].iloc[0].values()) == pytest.approx(1.0)

    # the stored scores are the numbers the scoring routes give (reasons aside)
    risk = client.get(
        f"/v1/customers/{chosen[0]}/risk", params={"as_of": AS_OF}, headers=bearer(keys["score"])
    )
    stored = latest.set_index("invoice_id")["p_over_30"]
    for invoice in risk.json()["customer"]["invoices"]:
        assert stored[invoice["invoice_id"]] == pytest.approx(invoice["p_over_30"])


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


def test_stateless_refuses_broken_history_and_stores_nothing(
    scoring: tuple[TestClient, dict[str, str]], registry: Any, chosen: list[str]
) -> None:
    client, keys = scoring
    assert isinstance(client.app, FastAPI)
    headers = bearer(keys["score"])
    body = history_body(registry.ledger, chosen[0], as_of=AS_OF)
    body["payments"][0]["invoice_id"] = "INV-NOT-SENT"
    body["invoices"][0]["amount"] = -5.0
    before = client.app.state.store.load()

    refused = client.post("/v1/scores:stateless", json=body, headers=headers)

    assert refused.status_code == 422
    fields = {(error["table"], error["field"]) for error in refused.json()["errors"]}
    assert {("invoices", "amount"), ("payments", "invoice_id")} <= fields
    after = client.app.state.store.load()
    assert {name: len(frame) for name, frame in after.tables().items()} == {
        name: len(frame) for name, frame in before.tables().items()
    }


def test_limits_give_413(
    scoring: tuple[TestClient, dict[str, str]],
    registry: Any,
    chosen: list[str],
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    client = client_for(
        service_settings(
            mlflow_tracking_uri=registry.tracking_uri, max_score_customers=2, max_batch_rows=3
        )
    )
    keys = keys_for(client)
    headers = bearer(keys["score"])
    many = client.post("/v1/scores", json={"customer_ids": ["a", "b", "c"]}, headers=headers)
    history = client.post(
        "/v1/scores:stateless", json=history_body(registry.ledger, chosen[0]), headers=headers
    )
    assert many.status_code == 413 and many.json()["max_score_customers"] == 2
    assert history.status_code == 413 and history.json()["max_batch_rows"] == 3


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


# -- the scoring core on inline ledgers ------------------------------------------------


def _tiny_ledger() -> Ledger:
    invoices = pd.DataFrame(
        {
            "invoice_id": ["i1", "i2", "i3", "i4", "i5"],
            "customer_id": ["c1"] * 5,
            "issue_date": pd.to_datetime(
                ["2026-01-01", "2026-01-10", "2026-02-01", "2026-03-05", "2026-01-15"]
            ),
            "due_date": pd.to_datetime(
                ["2026-01-31", "2026-02-09", "2026-03-03", "2026-04-04", "2026-02-14"]
            ),
            "amount": [100.0, 200.0, 300.0, 400.0, 500.0],
            # i1 paid on the as-of day; i2 paid the day after; i5 covered by payments
            "paid_date": pd.to_datetime(["2026-03-01", "2026-03-02", None, None, None]),
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["p1", "p2", "p3"],
            "customer_id": ["c1"] * 3,
            "invoice_id": ["i5", "i5", "i3"],
            "payment_date": pd.to_datetime(["2026-02-10", "2026-02-20", "2026-02-25"]),
            "amount": [250.0, 250.0, 100.0],
        }
    )
    customers = pd.DataFrame(
        {"customer_id": ["c1"], "created_date": pd.to_datetime(["2025-12-15"])}
    )
    return Ledger.from_frames(customers=customers, invoices=invoices, payments=payments)


def test_open_invoices_at_a_date_follow_the_point_in_time_rule() -> None:
    rows = open_invoice_rows(_tiny_ledger(), pd.Timestamp("2026-03-01"))
    # i1 paid that day: closed; i2 paid later: open; i3 partly paid: open;
    # i4 not issued yet; i5 covered by payments on 2026-02-20: closed
    assert rows["invoice_id"].tolist() == ["i2", "i3"]
    assert (rows["as_of"] == pd.Timestamp("2026-03-01")).all()


def test_as_of_is_checked_against_the_data_and_today() -> None:
    ledger, today = _tiny_ledger(), date(2026, 12, 4)
    assert check_as_of(ledger, date(2025, 12, 15), today=today, max_future_days=30) == (
        pd.Timestamp("2025-12-15")
    )
    with pytest.raises(AsOfOutOfRange, match="before any of the data: the first date is 2025-12"):
        check_as_of(ledger, date(2025, 12, 14), today=today, max_future_days=30)
    with pytest.raises(AsOfOutOfRange, match="more than 30 days after today"):
        check_as_of(ledger, date(2027, 1, 4), today=today, max_future_days=30)
    with pytest.raises(AsOfOutOfRange, match="the first date is 1900-01-01"):
        check_as_of(Ledger.from_frames(), date(1, 1, 1), today=today, max_future_days=30)


def test_customer_rollup_covers_every_asked_customer_in_order() -> None:
    invoices = pd.DataFrame(
        {
            "customer_id": pd.array(["b", "a", "b"], dtype="string"),
            "currency": pd.array(["ILS", "USD", "EUR"], dtype="string"),
            "open_amount": [100.0, 50.0, 10.0],
            "p_over_30": [0.5, 0.05, 0.2],
        }
    )
    tiers = RiskTiers("USD", {"ILS": 0.25, "EUR": 1.1}, high_amount=10.0, medium_amount=5.0)
    rolled = rollup_customers(invoices, ["a", "b", "z"], tiers)
    assert rolled["customer_id"].tolist() == ["a", "b", "z"]
    assert rolled["open_invoices"].tolist() == [1, 2, 0]
    assert rolled["expected_amount_over_30"].tolist() == pytest.approx([2.5, 52.0, 0.0])
    # the tier is on the amount at risk in USD: b = 50 ILS x 0.25 + 2 EUR x 1.1
    assert rolled["amount_at_risk"].tolist() == pytest.approx([2.5, 14.7, 0.0])
    assert rolled["risk_tier"].tolist() == ["low", "high", "low"]
    no_rates = rollup_customers(invoices, ["a", "b"])
    assert no_rates["risk_tier"].tolist()[0] == "low" and pd.isna(no_rates["risk_tier"].iloc[1])
    # b mixes currencies; z has nothing open
    assert rolled["currency"].tolist()[0] == "USD" and rolled["currency"].isna().tolist()[1:] == [
        True,
        True,
    ]
    assert rolled["reasons_row"].tolist() == [1, 0, -1]


def _backdate(client: TestClient, customer_id: str, when: datetime) -> None:
    """Set ``updated_at`` of the customer's rows to ``when``: its last change was then."""
    store = client.app.state.store  # type: ignore[attr-defined]
    with store.engine.begin() as connection:
        for name in TABLES:
            table = SQL_TABLES[name]
            connection.execute(
                sa.update(table).where(table.c.customer_id == customer_id).values(updated_at=when)
            )


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


def test_cached_answers_expire() -> None:
    from serving.score_cache import ScoreCache

    now = [0.0]
    cache: ScoreCache[str] = ScoreCache(max_entries=4, max_age_seconds=60, clock=lambda: now[0])
    cache.put("a", "A")
    now[0] = 60.0
    assert cache.get("a") == "A"
    now[0] = 60.5
    assert (cache.get("a"), len(cache)) == (None, 0)


def test_the_cache_keeps_the_most_recently_used_entries() -> None:
    from serving.score_cache import ScoreCache

    cache: ScoreCache[str] = ScoreCache(max_entries=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    cache.put("c", "C")
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, "A", "C")
    disabled: ScoreCache[str] = ScoreCache(max_entries=0)
    disabled.put("a", "A")
    assert disabled.get("a") is None and len(disabled) == 0


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


def test_exact_shap_reasons_when_the_settings_ask_for_them(
    registry: Any,
    chosen: list[str],
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> None:
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri, score_reasons_method="shap"
    )
    client = client_for(settings)
    body = history_body(registry.ledger, chosen[0], as_of=AS_OF)
    answer = client.post(
        "/v1/scores:stateless", json=body, headers=bearer(keys_for(client)["score"])
    )
    assert answer.status_code == 200, answer.text
    assert answer.json()["reasons_method"] == "shap"
    whole = score_ledger(
        client.app.state.holder.current().model,  # type: ignore[attr-defined]
        registry.ledger,
        pd.Timestamp(AS_OF),
        [chosen[0]],
        method="shap",
    )
    first = answer.json()["customer"]["invoices"][0]
    row = int(whole.invoices.index[whole.invoices["invoice_id"] == first["invoice_id"]][0])
    assert [reason["feature"] for reason in first["reasons"]] == [
        reason.feature for reason in whole.reasons["en"][row]
    ]
