"""Security over HTTP: hashed keys, security headers, CSRF on every form, cookies, 429.

Every form of the pages (sign-in, sign-out, the customer page's action form) is posted
with its token, without it and with a wrong one; refusals are a 403 page and store
nothing. The rate limiter is tested with a tiny limit and with limiting off.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa
from fastapi import FastAPI
from fastapi.testclient import TestClient

from ledger.db_schema import API_KEYS, SQL_TABLES
from ledger.frames import Ledger
from payrisk.settings import Settings
from serving import auth
from serving.app import create_app
from serving.ratelimit import RateLimiter
from serving.security import CONTENT_SECURITY_POLICY, DOCS_CONTENT_SECURITY_POLICY
from serving.web.csrf import SIGNIN_CSRF_COOKIE
from serving.web.render import TEMPLATE_DIR
from serving.web.session import SESSION_COOKIE

Service = tuple[TestClient, dict[str, str]]


def bearer(key: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}"}


def _ledger() -> Ledger:
    customers = pd.DataFrame(
        {"customer_id": ["C1"], "name": ["Alef"], "currency": ["USD"], "collector": ["ann"]}
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1"],
            "customer_id": ["C1"],
            "issue_date": pd.to_datetime(["2026-01-01"]),
            "due_date": pd.to_datetime(["2026-02-01"]),
            "amount": [1000.0],
            "currency": ["USD"],
        }
    )
    return Ledger.from_frames(customers=customers, invoices=invoices)


def _start(client_for: Callable[[Settings], TestClient], settings: Settings) -> Service:
    client = client_for(settings)
    assert isinstance(client.app, FastAPI)
    store = client.app.state.store
    store.upsert(_ledger())
    keys = {
        "worklist": auth.create_key(store, "manager", ["worklist"]).key,
        "other": auth.create_key(store, "other-manager", ["worklist"]).key,
    }
    return client, keys


@pytest.fixture
def service(
    service_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> Service:
    # TestClient speaks plain http to "testserver": a Secure cookie would not come back.
    settings = service_settings(session_cookie_secure=False, max_body_bytes=4096)
    return _start(client_for, settings)


def _token(html: str) -> str:
    found = re.search(r'name="csrf" value="([^"]+)"', html)
    assert found is not None, "the form has no CSRF field"
    return found.group(1)


def _sign_in(client: TestClient, key: str) -> str:
    """Sign in through the form; returns the session's CSRF token (from the worklist)."""
    token = _token(client.get("/signin").text)
    response = client.post("/signin", data={"key": key, "csrf": token}, follow_redirects=False)
    assert response.status_code == 303, response.text
    return _token(client.get("/customers/C1").text)


def _activity_count(client: TestClient) -> int:
    assert isinstance(client.app, FastAPI)
    with client.app.state.store.engine.connect() as connection:
        table = SQL_TABLES["activities"]
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())


# --- keys: hashed, compared in constant time -------------------------------------------


def test_keys_are_stored_only_as_their_sha256(service: Service) -> None:
    client, keys = service
    assert isinstance(client.app, FastAPI)
    with client.app.state.store.engine.connect() as connection:
        rows = connection.execute(sa.select(API_KEYS)).all()
    stored = {str(value) for row in rows for value in row}
    assert not any(key in value for key in keys.values() for value in stored)
    hashes = {row.key_hash for row in rows}
    assert hashes == {hashlib.sha256(key.encode()).hexdigest() for key in keys.values()}


def test_the_found_hash_is_compared_in_constant_time(
    service: Service, monkeypatch: pytest.MonkeyPatch
) -> None:
    client, keys = service
    compared: list[tuple[str, str]] = []
    real = auth.hmac.compare_digest

    def spy(a: str, b: str) -> bool:
        compared.append((a, b))
        return real(a, b)

    monkeypatch.setattr(auth.hmac, "compare_digest", spy)
    assert isinstance(client.app, FastAPI)
    store = client.app.state.store
    assert auth.find_caller(store, keys["worklist"]) is not None
    digest = auth.hash_key(keys["worklist"])
    assert compared == [(digest, digest)]
    # An unknown key is looked up by its hash and never reaches a comparison of secrets.
    assert auth.find_caller(store, keys["worklist"] + "x") is None


# --- security headers ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "path", "with_key"),
    [
        ("GET", "/signin", False),  # a page
        ("GET", "/worklist", False),  # a redirect to the sign-in
        ("GET", "/static/sort.js", False),
        ("GET", "/healthz", False),
        ("GET", "/v1/worklist", False),  # 401
        ("GET", "/v1/worklist", True),  # 200 JSON
        ("GET", "/v1/worklist?page=x", True),  # 422
        ("GET", "/no/such/route", False),  # 404
        ("POST", "/v1/activities", True),  # 413 from the middleware
    ],
)
def test_every_response_carries_the_security_headers(
    service: Service, method: str, path: str, with_key: bool
) -> None:
    client, keys = service
    headers = bearer(keys["worklist"]) if with_key else {}
    content = b"x" * (5000 if method == "POST" else 0)
    response = client.request(
        method, path, headers=headers, content=content or None, follow_redirects=False
    )
    policy = response.headers["content-security-policy"]
    assert policy == CONTENT_SECURITY_POLICY
    assert "script-src 'self';" in policy and "'unsafe-inline'" not in policy
    assert "frame-ancestors 'none'" in policy
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["x-frame-options"] == "DENY"
    assert response.headers["referrer-policy"] == "same-origin"
    if method == "POST":
        assert response.status_code == 413


def test_the_api_docs_get_their_own_policy_and_still_no_framing(service: Service) -> None:
    client, _keys = service
    response = client.get("/docs")
    assert response.status_code == 200
    assert response.headers["content-security-policy"] == DOCS_CONTENT_SECURITY_POLICY
    assert "frame-ancestors 'none'" in DOCS_CONTENT_SECURITY_POLICY
    assert response.headers["x-frame-options"] == "DENY"


def test_templates_have_no_inline_script_style_or_handlers() -> None:
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|<style|javascript:",
        re.IGNORECASE,
    )
    found = {
        path.name: inline.findall(path.read_text("utf-8"))
        for path in sorted(Path(TEMPLATE_DIR).glob("*.html"))
    }
    assert found and all(not hits for hits in found.values()), found


# --- CSRF on every form ----------------------------------------------------------------


def _refused(response: object) -> None:
    assert response.status_code == 403  # type: ignore[attr-defined]
    assert "Form expired" in response.text  # type: ignore[attr-defined]
    cookies = " ".join(response.headers.get_list("set-cookie"))  # type: ignore[attr-defined]
    assert SESSION_COOKIE not in cookies


@pytest.mark.parametrize("token", ["", "forged", "other-browser"])
def test_signin_without_its_token_is_refused(service: Service, token: str) -> None:
    client, keys = service
    if token == "other-browser":
        # A valid token, but for another browser's cookie (what a forging site can get).
        other = TestClient(client.app)
        token = _token(other.get("/signin").text)
    client.get("/signin")  # this browser's own cookie
    response = client.post("/signin", data={"key": keys["worklist"], "csrf": token})
    _refused(response)
    assert client.get("/worklist", follow_redirects=False).status_code == 303


def test_signin_without_the_cookie_is_refused(service: Service) -> None:
    client, keys = service
    token = _token(client.get("/signin").text)
    client.cookies.clear()
    _refused(client.post("/signin", data={"key": keys["worklist"], "csrf": token}))


def test_signin_with_its_token_works_and_drops_the_pre_session_cookie(service: Service) -> None:
    client, keys = service
    token = _token(client.get("/signin").text)
    response = client.post(
        "/signin", data={"key": keys["worklist"], "csrf": token}, follow_redirects=False
    )
    assert response.status_code == 303
    cookies = response.headers.get_list("set-cookie")
    assert any(c.startswith(f"{SESSION_COOKIE}=") for c in cookies)
    assert any(c.startswith(f'{SIGNIN_CSRF_COOKIE}=""') for c in cookies)


@pytest.mark.parametrize("token", ["", "wrong", "another-session"])
def test_signout_without_the_session_token_is_refused(service: Service, token: str) -> None:
    client, keys = service
    if token == "another-session":
        other = TestClient(client.app)
        token = _sign_in(other, keys["other"])
    _sign_in(client, keys["worklist"])
    _refused(client.post("/signout", data={"csrf": token}))
    assert client.get("/worklist", follow_redirects=False).status_code == 200


def test_signout_with_the_session_token_ends_the_session(service: Service) -> None:
    client, keys = service
    token = _sign_in(client, keys["worklist"])
    response = client.post("/signout", data={"csrf": token}, follow_redirects=False)
    assert response.status_code == 303 and response.headers["location"] == "/signin"
    assert client.get("/worklist", follow_redirects=False).status_code == 303


@pytest.mark.parametrize("token", ["", "wrong", "another-session"])
def test_an_action_without_the_session_token_stores_nothing(service: Service, token: str) -> None:
    client, keys = service
    if token == "another-session":
        other = TestClient(client.app)
        token = _sign_in(other, keys["other"])
    _sign_in(client, keys["worklist"])
    before = _activity_count(client)
    _refused(client.post("/customers/C1/actions", data={"csrf": token, "kind": "note"}))
    assert _activity_count(client) == before


def test_an_action_with_the_session_token_is_stored(service: Service) -> None:
    client, keys = service
    token = _sign_in(client, keys["worklist"])
    before = _activity_count(client)
    response = client.post(
        "/customers/C1/actions",
        data={"csrf": token, "kind": "note", "text": "called"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    assert _activity_count(client) == before + 1


def test_every_post_form_of_the_pages_carries_a_csrf_field(service: Service) -> None:
    client, keys = service
    _sign_in(client, keys["worklist"])
    pages = {path: client.get(path).text for path in ("/worklist", "/customers/C1", "/kpis")}
    client.cookies.clear()
    pages["/signin"] = client.get("/signin").text
    forms = 0
    for path, html in pages.items():
        for form in re.findall(r"<form[^>]*method=\"post\"[^>]*>.*?</form>", html, re.S):
            forms += 1
            assert re.search(r'<input type="hidden" name="csrf" value="[^"]+">', form), path
    assert forms >= 4  # sign-in, sign-out (on each signed-in page), the action form


# --- cookies ---------------------------------------------------------------------------


def _cookie(response: object, name: str) -> str:
    cookies = response.headers.get_list("set-cookie")  # type: ignore[attr-defined]
    [cookie] = [c for c in cookies if c.startswith(f"{name}=")]
    return str(cookie)


def test_cookies_are_httponly_samesite_and_not_secure_on_plain_local_http(
    service: Service,
) -> None:
    client, keys = service
    signin_page = client.get("/signin")
    pre = _cookie(signin_page, SIGNIN_CSRF_COOKIE)
    assert "HttpOnly" in pre and "SameSite=strict" in pre and "Secure" not in pre
    token = _token(signin_page.text)
    response = client.post(
        "/signin", data={"key": keys["worklist"], "csrf": token}, follow_redirects=False
    )
    session = _cookie(response, SESSION_COOKIE)
    assert "HttpOnly" in session and "SameSite=lax" in session and "Path=/" in session
    assert "Max-Age=28800" in session and "Secure" not in session
    assert keys["worklist"] not in session


@pytest.fixture
def https_client(service_settings: Callable[..., Settings]) -> Iterator[Service]:
    """The app behind https on a real host name, with the default cookie setting."""
    with TestClient(create_app(service_settings()), base_url="https://payrisk.example") as client:
        assert isinstance(client.app, FastAPI)
        store = client.app.state.store
        store.upsert(_ledger())
        yield client, {"worklist": auth.create_key(store, "manager", ["worklist"]).key}


def test_cookies_are_secure_over_https(https_client: Service) -> None:
    client, keys = https_client
    signin_page = client.get("/signin")
    assert "Secure" in _cookie(signin_page, SIGNIN_CSRF_COOKIE)
    token = _token(signin_page.text)
    response = client.post(
        "/signin", data={"key": keys["worklist"], "csrf": token}, follow_redirects=False
    )
    session = _cookie(response, SESSION_COOKIE)
    assert "Secure" in session and "HttpOnly" in session and "SameSite=lax" in session


# --- rate limiting ---------------------------------------------------------------------


def test_a_key_over_its_rate_gets_429_with_retry_after(
    service_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> None:
    settings = service_settings(rate_limit_per_second=0.01, rate_limit_burst=2)
    client, keys = _start(client_for, settings)
    statuses = [
        client.get("/v1/worklist", headers=bearer(keys["worklist"])).status_code for _ in range(2)
    ]
    assert statuses == [200, 200]
    limited = client.get("/v1/worklist", headers=bearer(keys["worklist"]))
    assert limited.status_code == 429
    retry_after = int(limited.headers["retry-after"])
    assert 1 <= retry_after <= 100  # one token takes 100 s at 0.01 per second
    body = limited.json()
    assert body["error"] == "rate_limited" and body["key_name"] == "manager"
    assert body["retry_after_seconds"] == retry_after and body["burst"] == 2
    assert "too many requests" in body["detail"]
    assert limited.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
    # The bucket is per key: another key is not slowed down by this one.
    assert client.get("/v1/worklist", headers=bearer(keys["other"])).status_code == 200


def test_rate_limit_zero_means_off(
    service_settings: Callable[..., Settings], client_for: Callable[[Settings], TestClient]
) -> None:
    settings = service_settings(rate_limit_per_second=0, rate_limit_burst=1)
    client, keys = _start(client_for, settings)
    statuses = {
        client.get("/v1/worklist", headers=bearer(keys["worklist"])).status_code for _ in range(5)
    }
    assert statuses == {200}


def test_the_bucket_refills_at_its_rate() -> None:
    now = [100.0]
    limiter = RateLimiter(per_second=2.0, burst=3, clock=lambda: now[0])
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k") == pytest.approx(0.5)  # one token at 2 per second
    now[0] += 0.5
    assert limiter.acquire("k") == 0.0
    assert limiter.acquire("k") > 0
    now[0] += 60  # a long pause refills to the burst, never beyond
    assert [limiter.acquire("k") for _ in range(3)] == [0.0, 0.0, 0.0]
    assert limiter.acquire("k") > 0
    assert limiter.acquire("other") == 0.0


def test_the_default_limit_is_generous_for_the_soak() -> None:
    # The soak runs concurrency 32 against 2 workers: far below a second's burst.
    settings = Settings()
    assert settings.rate_limit_per_second >= 500 and settings.rate_limit_burst >= 1000
