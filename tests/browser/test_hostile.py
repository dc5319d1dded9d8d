"""Hostile ledger text in a real browser, and the pages under their Content-Security-Policy.

A customer named ``<script>…</script><img src=x onerror=…>`` and notes with HTML (one
through the API, one typed into the customer page's form) are shown as literal text on
the worklist and the customer page, and none of their scripts runs. Every page renders
with no CSP violation in the console, and the vendored script (table sorting) still
works under ``script-src 'self'``.
"""

from __future__ import annotations

import json
import re
import urllib.request
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

HOSTILE_ID = "HOSTILE-1"
HOSTILE_NAME = "<script>window.pwned=1</script><img src=x onerror=\"window.pwned='name'\">"
API_NOTE = "<b>bold?</b><script>window.pwned=2</script><img src=x onerror=\"window.pwned='api'\">"
FORM_NOTE = "<i>typed</i><svg onload=\"window.pwned='form'\"></svg>"
PAGES = ("/worklist", f"/customers/{HOSTILE_ID}", "/kpis", "/model")


def _call(server: Any, key: str, path: str, body: dict[str, Any]) -> dict[str, Any]:
    request = urllib.request.Request(
        server.url + path,
        data=json.dumps(body).encode("utf-8"),
        method="POST",
        headers={"Authorization": f"Bearer {key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        result: dict[str, Any] = json.load(answer)
        return result


@pytest.fixture(scope="module")
def hostile_customer(live_server: Any) -> str:
    """A big overdue customer with a hostile name and note, scored so it leads the worklist."""
    today = datetime.now(UTC).date()
    batch = {
        "customers": [
            {
                "customer_id": HOSTILE_ID,
                "name": HOSTILE_NAME,
                "currency": "USD",
                "country": "US",
                "collector": "hostile-test",
            }
        ],
        "invoices": [
            {
                "invoice_id": "HOSTILE-INV-1",
                "customer_id": HOSTILE_ID,
                "issue_date": str(today - timedelta(days=120)),
                "due_date": str(today - timedelta(days=60)),
                "amount": 900_000.0,
                "currency": "USD",
            }
        ],
        "activities": [
            {
                "activity_id": "HOSTILE-ACT-1",
                "customer_id": HOSTILE_ID,
                "date": str(today - timedelta(days=5)),
                "kind": "note",
                "text": API_NOTE,
            }
        ],
    }
    _call(live_server, live_server.ingest_key, "/v1/ledger/batch", batch)
    refreshed = _call(live_server, live_server.admin_key, "/v1/scores:refresh", {})
    assert refreshed["invoices_scored"] > 0
    return HOSTILE_ID


def _watch(page: Any) -> list[str]:
    """Collect console errors (CSP violations land there), page errors and failed loads.

    A failed load is reported by its URL instead of the console's URL-less message; the
    browser's own try for ``/favicon.ico`` (there is none) is not a problem.
    """
    problems: list[str] = []

    def on_console(message: Any) -> None:
        if message.type == "error" and not message.text.startswith("Failed to load resource"):
            problems.append(message.text)

    def on_response(response: Any) -> None:
        if response.status >= 400 and not response.url.endswith("/favicon.ico"):
            problems.append(f"{response.status} {response.url}")

    page.on("console", on_console)
    page.on("pageerror", lambda error: problems.append(str(error)))
    page.on("response", on_response)
    return problems


def _sign_in(page: Any, server: Any) -> None:
    page.goto(server.url + "/signin")
    page.fill("#key", server.worklist_key)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_url(re.compile(r"/worklist"))


def test_hostile_names_and_notes_are_shown_as_text(
    page: Any, live_server: Any, hostile_customer: str
) -> None:
    problems = _watch(page)
    _sign_in(page, live_server)
    page.goto(live_server.url + "/worklist?collector=hostile-test")
    link = page.locator(f"#worklist tr[data-customer='{hostile_customer}'] td a")
    assert link.inner_text() == HOSTILE_NAME
    assert page.locator("img[src='x']").count() == 0

    link.click()
    page.wait_for_url(re.compile(re.escape(f"/customers/{hostile_customer}")))
    assert page.locator("h1").inner_text().startswith(HOSTILE_NAME)
    assert API_NOTE in page.inner_text("#timeline")
    page.select_option("#kind", "note")
    page.fill("#text", FORM_NOTE)
    page.click("#action-form button[type=submit]")
    page.wait_for_url(re.compile(r"saved=note"))
    timeline = page.inner_text("#timeline")
    assert FORM_NOTE in timeline and API_NOTE in timeline
    assert page.locator("img[src='x']").count() == 0
    assert page.locator("#timeline svg, #timeline b, #timeline i").count() == 0
    assert page.title().startswith(HOSTILE_NAME)

    assert page.evaluate("window.pwned") is None, "a script from the ledger ran"
    assert problems == []


def test_every_page_renders_under_the_csp_without_violations(
    page: Any, live_server: Any, hostile_customer: str
) -> None:
    problems = _watch(page)
    _sign_in(page, live_server)
    for path in PAGES:
        response = page.goto(live_server.url + path)
        assert response.status == 200, path
        policy = response.headers["content-security-policy"]
        assert "script-src 'self';" in policy and "frame-ancestors 'none'" in policy
        assert page.locator("main h1").count() == 1, path
    # The vendored sort.js runs under script-src 'self': a click sorts the table.
    page.goto(live_server.url + f"/customers/{quote(hostile_customer)}")
    header = page.locator("#invoices th").first
    header.click()
    assert header.get_attribute("data-order") == "asc"
    assert problems == [], problems
    assert page.evaluate("window.pwned") is None
