"""The managers' pages over HTTP (TestClient): sign-in, worklist, customer, forms, Hebrew."""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import date
from html.parser import HTMLParser
from types import SimpleNamespace
from typing import Any

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.db_schema import SQL_TABLES
from ledger.frames import Ledger
from ledger.scores_store import write_scores
from payrisk.settings import Settings
from serving.auth import create_key, revoke_key
from serving.web import routes as web_routes
from serving.web.i18n import Texts, catalog
from serving.web.session import SESSION_COOKIE, cookie_secure
from tests.serving.conftest import stored_scores

TODAY = date(2026, 3, 1)


def _ledger() -> Ledger:
    customers = pd.DataFrame(
        {
            "customer_id": ["C1", "C2", "C3", "C4"],
            "name": ["Alef", "Bet", "Gimel", "Dalet"],
            "segment": ["enterprise", "smb", "smb", "smb"],
            "country": ["IL", "US", "US", "US"],
            "currency": ["ILS", "USD", "USD", "USD"],
            "collector": ["ann", "ann", "bob", "bob"],
        }
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I0", "I1", "I2", "I3"],
            "customer_id": ["C1", "C1", "C2", "C3"],
            "issue_date": pd.to_datetime(["2025-10-01", "2026-01-01", "2026-01-01", "2026-01-01"]),
            "due_date": pd.to_datetime(["2025-11-01", "2026-03-10", "2026-02-01", "2026-02-15"]),
            "amount": [500.0, 8000.0, 1000.0, 2000.0],
            "currency": ["ILS", "ILS", "USD", "USD"],
            "paid_date": pd.to_datetime(["2025-11-21", None, None, None]),
        }
    )
    return Ledger.from_frames(customers=customers, invoices=invoices)


Service = tuple[TestClient, dict[str, str]]


@pytest.fixture
def service(
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    monkeypatch: pytest.MonkeyPatch,
) -> Service:
    monkeypatch.setattr(web_routes, "today_utc", lambda: TODAY)
    settings = service_settings(
        reporting_currency="ILS",
        fx_rates={"USD": 4.0},
        tier_high_amount=3000.0,
        tier_medium_amount=900.0,
        # TestClient speaks plain http to "testserver": a Secure cookie would not come back.
        session_cookie_secure=False,
    )
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    store = client.app.state.store
    store.upsert(_ledger())
    write_scores(store, stored_scores(reasons_he=[{"text": "שילם באיחור בעבר"}]))
    keys = {
        "worklist": create_key(store, "manager", ["worklist"]).key,
        "score": create_key(store, "scorer", ["score"]).key,
    }
    return client, keys


def _signin_csrf(client: TestClient) -> str:
    """The sign-in form's CSRF token (its cookie stays in the client)."""
    return _csrf(client.get("/signin").text)


def _sign_in(client: TestClient, key: str) -> None:
    data = {"key": key, "next": "/worklist", "csrf": _signin_csrf(client)}
    response = client.post("/signin", data=data, follow_redirects=False)
    assert response.status_code == 303, response.text
    assert response.headers["location"] == "/worklist"


def _csrf(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None
    return found.group(1)


def test_pages_redirect_to_signin_without_a_session(service: Service) -> None:
    client, _keys = service
    for path in ("/worklist", "/customers/C1", "/kpis", "/model", "/worklist.csv"):
        response = client.get(path, follow_redirects=False)
        assert response.status_code == 303, path
        assert response.headers["location"].startswith("/signin?next=%2F")


def test_every_asset_a_page_links_is_served(service: Service) -> None:
    """Stylesheet, script and icon of the layout: a browser asks for each (no 404)."""
    client, _keys = service
    page = client.get("/signin").text
    assets = re.findall(r'(?:href|src)="(/static/[^"]+)"', page)
    assert {"/static/app.css", "/static/sort.js", "/static/favicon.svg"} <= set(assets)
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_signin_sets_a_safe_cookie_and_signout_ends_it(service: Service) -> None:
    client, keys = service
    data = {"key": keys["worklist"], "csrf": _signin_csrf(client)}
    response = client.post("/signin", data=data, follow_redirects=False)
    cookie = response.headers["set-cookie"]
    assert SESSION_COOKIE in cookie and "HttpOnly" in cookie and "SameSite=lax" in cookie
    assert keys["worklist"] not in cookie
    page = client.get("/worklist")
    assert page.status_code == 200 and "Alef" in page.text
    out = client.post("/signout", data={"csrf": _csrf(page.text)}, follow_redirects=False)
    assert out.headers["location"] == "/signin"
    client.cookies.delete(SESSION_COOKIE)
    assert client.get("/worklist", follow_redirects=False).status_code == 303


@pytest.mark.parametrize(
    ("url", "setting", "secure"),
    [
        ("http://127.0.0.1:8000/signin", None, False),
        ("http://localhost:8000/signin", None, False),
        ("http://payrisk.example.com/signin", None, True),
        ("https://payrisk.example.com/signin", None, True),
        ("http://127.0.0.1:8000/signin", True, True),
    ],
)
def test_cookie_is_secure_except_plain_http_on_this_machine(
    url: str, setting: bool | None, secure: bool
) -> None:
    from urllib.parse import urlsplit

    from starlette.requests import Request

    parts = urlsplit(url)
    port = parts.port or (443 if parts.scheme == "https" else 80)
    scope = {
        "type": "http",
        "scheme": parts.scheme,
        "server": (parts.hostname, port),
        "path": parts.path,
        "headers": [(b"host", parts.netloc.encode())],
        "query_string": b"",
    }
    settings = Settings(session_cookie_secure=setting)
    assert cookie_secure(Request(scope), settings) is secure


@pytest.mark.parametrize(
    ("key_name", "status", "message"),
    [("wrong", 401, "wrong, expired or revoked"), ("score", 403, "lacks the scope worklist")],
)
def test_bad_keys_get_the_signin_page_with_a_message(
    service: Service, key_name: str, status: int, message: str
) -> None:
    client, keys = service
    key = keys.get(key_name, "prk_not-a-key")
    data = {"key": key, "csrf": _signin_csrf(client)}
    response = client.post("/signin", data=data, follow_redirects=False)
    assert response.status_code == status
    assert message in response.text and SESSION_COOKIE not in response.headers.get("set-cookie", "")


def test_a_revoked_key_ends_its_session(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    assert isinstance(client.app, FastAPI)
    revoke_key(client.app.state.store, "manager")
    assert client.get("/worklist", follow_redirects=False).status_code == 303


def test_worklist_ranks_formats_and_sorts(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    page = client.get("/worklist").text
    # C1: 8000 x 0.5 = 4000 ILS (high); C2: 1000 USD x 4 x 0.3 = 1200 (medium); C3 800 (low).
    order = re.findall(r'<tr data-customer="(C\d)"', page.split('id="snoozed"')[0])
    assert order == ["C1", "C2", "C3"]
    assert "₪4,000.00" in page and "tier-high" in page and "courtesy call before due" in page
    by_name = client.get("/worklist", params={"sort": "name", "order": "desc"}).text
    assert re.findall(r'<tr data-customer="(C\d)"', by_name.split('id="snoozed"')[0]) == [
        "C3",
        "C2",
        "C1",
    ]


def test_worklist_filters_and_ignores_unknown_values(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    page = client.get("/worklist", params={"collector": "ann", "tier": "urgent"}).text
    assert re.findall(r'<tr data-customer="(C\d)"', page.split('id="snoozed"')[0]) == [
        "C1",
        "C2",
    ]
    assert "Ignored the filter Tier = urgent" in page
    export = client.get("/worklist.csv", params={"collector": "bob"})
    assert export.headers["content-type"].startswith("text/csv")
    assert [line.split(",")[1] for line in export.text.strip().splitlines()[1:]] == ["C3"]


def test_worklist_pages(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    first = client.get("/worklist", params={"page_size": "2"}).text
    second = client.get("/worklist", params={"page_size": "2", "page": "2"}).text
    assert re.findall(r'<tr data-customer="(C\d)"', first) == ["C1", "C2"]
    assert re.findall(r'<tr data-customer="(C\d)"', second) == ["C3"]
    assert "Page 2 of 2" in second and 'rel="prev"' in second and 'rel="next"' not in second


def test_unscored_ledger_page_says_how_to_score(
    service_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> None:
    client = client_for(service_settings(session_cookie_secure=False))
    assert isinstance(client.app, FastAPI)
    client.app.state.store.upsert(_ledger())
    _sign_in(client, create_key(client.app.state.store, "m", ["worklist"]).key)
    page = client.get("/worklist").text
    assert "No scores yet" in page and "POST /v1/scores:refresh" in page


def test_empty_ledger_page_says_what_to_do(
    service_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> None:
    client = client_for(service_settings(session_cookie_secure=False))
    assert isinstance(client.app, FastAPI)
    _sign_in(client, create_key(client.app.state.store, "m", ["worklist"]).key)
    page = client.get("/worklist").text
    assert "The ledger is empty" in page and "payrisk ledger import" in page


def test_unknown_customer_is_a_404_page(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    response = client.get("/customers/NOPE")
    assert response.status_code == 404
    assert "text/html" in response.headers["content-type"] and "NOPE" in response.text


def test_customer_page_shows_invoices_history_and_chart(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    page = client.get("/customers/C1").text
    assert "₪8,000.00" in page and "60.0%" in page and "Mar 20, 2026" in page
    assert "<svg" in page and "+20" in page  # I0 paid 20 days after its due date
    assert "paid late before" in page


def test_customer_without_invoices_or_scores_still_has_a_page(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    page = client.get("/customers/C4")
    assert page.status_code == 200
    assert "No open invoices." in page.text and "No activity yet." in page.text


def _activities(client: TestClient) -> list[tuple[str, str]]:
    assert isinstance(client.app, FastAPI)
    table = SQL_TABLES["activities"]
    with client.app.state.store.engine.connect() as connection:
        rows = connection.execute(sa.select(table.c.kind, table.c.created_by)).all()
    return [tuple(row) for row in rows]


@pytest.mark.parametrize(
    ("fields", "field", "message"),
    [
        ({"promised_date": "2026-02-01", "promised_amount": "100"}, "promised_date", "from today"),
        ({"promised_date": "2026-04-01", "promised_amount": "0"}, "promised_amount", "than zero"),
        ({"promised_date": "2026-04-01", "promised_amount": "-5"}, "promised_amount", "than zero"),
    ],
)
def test_promise_form_errors_store_nothing(
    service: Service, fields: dict[str, str], field: str, message: str
) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    csrf = _csrf(client.get("/customers/C1").text)
    response = client.post(
        "/customers/C1/actions", data={"csrf": csrf, "kind": "promise", **fields}
    )
    assert response.status_code == 422
    error = re.search(rf'id="error-{field}"[^>]*>([^<]+)<', response.text)
    assert error is not None and message in error.group(1)
    assert _activities(client) == []


def test_promise_snoozes_the_customer_and_is_stored_with_its_author(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    csrf = _csrf(client.get("/customers/C1").text)
    fields = {"csrf": csrf, "kind": "promise", "promised_date": "2026-03-15"}
    response = client.post(
        "/customers/C1/actions", data=fields | {"promised_amount": "8000"}, follow_redirects=False
    )
    assert response.status_code == 303
    assert _activities(client) == [("promise", "manager")]
    assert 'id="snoozed-until">Mar 15, 2026' in client.get(response.headers["location"]).text
    snoozed = client.get("/worklist").text.split('id="snoozed"')[1]
    assert 'data-customer="C1"' in snoozed and "Mar 15, 2026" in snoozed


def test_an_action_from_the_form_wakes_the_answer_warmer_with_its_customer(
    service: Service,
) -> None:
    client, keys = service
    assert isinstance(client.app, FastAPI)
    wakes: list[set[str]] = []
    client.app.state.answer_warmer = SimpleNamespace(wake=lambda written: wakes.append(written))
    _sign_in(client, keys["worklist"])
    csrf = _csrf(client.get("/customers/C1").text)
    refused = client.post("/customers/C1/actions", data={"csrf": csrf, "kind": "reassign"})
    assert refused.status_code == 422 and wakes == []  # nothing stored: nothing to warm
    fields = {"csrf": csrf, "kind": "note", "text": "called"}
    response = client.post("/customers/C1/actions", data=fields, follow_redirects=False)
    assert response.status_code == 303 and wakes == [{"C1"}]


def test_a_form_without_the_csrf_token_is_refused(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    for token in ("", "forged"):
        response = client.post("/customers/C1/actions", data={"csrf": token, "kind": "note"})
        assert response.status_code == 403
    assert _activities(client) == []


class _VisibleText(HTMLParser):
    """The text a reader sees (and labels a screen reader says), without script/style/code.

    ``<code>`` holds commands and system messages, which stay as they are in any language.
    """

    def __init__(self) -> None:
        super().__init__()
        self.parts: list[str] = []
        self._skip = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self._skip += tag in ("script", "style", "title", "code")
        self.parts += [v or "" for k, v in attrs if k in ("placeholder", "aria-label", "alt")]

    def handle_endtag(self, tag: str) -> None:
        self._skip -= tag in ("script", "style", "title", "code")

    def handle_data(self, data: str) -> None:
        if not self._skip:
            self.parts.append(data)


def test_hebrew_worklist_is_rtl_translated_and_formatted(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    page = client.get("/worklist", params={"lang": "he"}).text
    assert '<html lang="he" dir="rtl">' in page
    assert "\u200f4,000.00\xa0\u200f₪" in page  # he_IL puts the shekel sign after the amount
    assert "שילם באיחור בעבר" in page  # the reasons stored in Hebrew
    assert "1 במרץ 2026" in page  # today, in he_IL
    parser = _VisibleText()
    parser.feed(page)
    data = {"Alef", "Bet", "Gimel", "ann", "bob", "enterprise", "smb", "IL", "US", "ILS", "USD"}
    # The product name and the link back to English, written in English on purpose.
    allowed = data | {"payrisk", "English", "manager", "CSV"}
    words = set(re.findall(r"[A-Za-z]{2,}", " ".join(parser.parts)))
    assert words - allowed == set()
    # The choice sticks: the next page without ?lang is Hebrew too.
    assert 'dir="rtl"' in client.get("/kpis").text


@pytest.mark.parametrize("path", ["/customers/C1", "/kpis", "/model"])
def test_other_hebrew_pages_have_no_english_ui_text(service: Service, path: str) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    parser = _VisibleText()
    parser.feed(client.get(path, params={"lang": "he"}).text)
    data = {"Alef", "I0", "I1", "IL", "ILS", "enterprise", "ann", "P"}
    allowed = data | {"payrisk", "English", "manager"}
    assert set(re.findall(r"[A-Za-z]{2,}", " ".join(parser.parts))) - allowed == set()


def test_accept_language_chooses_hebrew() -> None:
    from starlette.requests import Request

    from serving.web.i18n import choose_language

    def request(headers: dict[str, str], query: str = "") -> Request:
        raw = [(k.lower().encode(), v.encode()) for k, v in headers.items()]
        return Request({"type": "http", "headers": raw, "query_string": query.encode()})

    assert choose_language(request({"Accept-Language": "he-IL,he;q=0.9,en;q=0.8"})) == "he"
    assert choose_language(request({"Accept-Language": "fr,en;q=0.5,he;q=0.4"})) == "en"
    assert choose_language(request({"Accept-Language": "he"}, "lang=en")) == "en"
    assert choose_language(request({})) == "en"


def test_hebrew_catalog_and_formats() -> None:
    assert catalog("he")["Worklist"] != "Worklist"
    hebrew = Texts("he")
    assert hebrew.money(1234.5, "ILS") == "\u200f1,234.50\xa0\u200f₪"
    assert hebrew.date(date(2026, 12, 4)) == "4 בדצמ\u05f3 2026"  # geresh after the month
    assert Texts("en").money(None, "USD") == "—"


def test_kpis_page_shows_figures_and_trend_charts(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    page = client.get("/kpis")
    assert page.status_code == 200
    # One block in the reporting currency (ILS, rates set): 8000 ILS + 3000 USD x 4 open.
    assert 'data-currency="ILS"' in page.text and "₪20,000.00" in page.text
    assert page.text.count('<svg class="chart"') == 3


def test_model_page_without_a_model_says_what_to_do(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    page = client.get("/model")
    assert page.status_code == 200 and "No model serves yet" in page.text
    assert client.get("/model/plots/calibration.png").status_code == 404


def test_model_card_shows_the_champion_beside_baselines(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
) -> None:
    settings = service_settings(
        mlflow_tracking_uri=registry.tracking_uri, session_cookie_secure=False
    )
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    _sign_in(client, create_key(client.app.state.store, "m", ["worklist"]).key)
    page = client.get("/model").text
    assert f'id="version">{registry.version}<' in page
    header = re.search(r'<table id="metrics".*?</tr>', page, re.S)
    assert header is not None
    scorers = re.findall(r'<th class="num">([^<]+)</th>', header.group(0))
    assert scorers[0] == "model" and len(scorers) >= 2
    plot = client.get("/model/plots/calibration.png")
    assert plot.status_code == 200 and plot.content[:8] == b"\x89PNG\r\n\x1a\n"
    assert client.get("/model/plots/secret.txt").status_code == 404


def test_reassignment_and_note_from_the_form(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    csrf = _csrf(client.get("/customers/C1").text)
    for fields in ({"kind": "reassign", "collector": "bob"}, {"kind": "note", "text": "on leave"}):
        response = client.post(
            "/customers/C1/actions", data={"csrf": csrf, **fields}, follow_redirects=False
        )
        assert response.status_code == 303
    page = client.get("/customers/C1").text
    assert 'id="collector">bob<' in page and "on leave" in page
    missing = client.post("/customers/C1/actions", data={"csrf": csrf, "kind": "reassign"})
    assert missing.status_code == 422 and 'id="error-collector"' in missing.text
    assert sorted(_activities(client)) == [("note", "manager"), ("reassign", "manager")]
