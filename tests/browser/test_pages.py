"""The pages in a real browser: Debian's Chromium, headless, against a live uvicorn server.

Sign in, load the worklist, filter by collector, open a customer, log a promise to pay and
find the customer snoozed until that date, then switch to Hebrew. Screenshots of each step
go to ``test-artifacts/browser/``.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from babel.dates import format_date

PROMISE_IN_DAYS = 10


def _shot(page: Any, name: str) -> None:
    # test-artifacts/ is next to tests/ and gitignored; CI keeps it as an artifact.
    folder = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
    folder.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(folder / f"{name}.png"), full_page=True)


def _sign_in(page: Any, server: Any) -> None:
    page.goto(server.url + "/worklist")
    assert "/signin" in page.url
    page.fill("#key", server.worklist_key)
    page.click("form[action='/signin'] button[type=submit]")
    page.wait_for_url(re.compile(r"/worklist"))


def test_sign_in_filter_open_customer_and_log_a_promise(page: Any, live_server: Any) -> None:
    page.goto(live_server.url + "/signin")
    page.fill("#key", "prk_wrong")
    page.click("form[action='/signin'] button[type=submit]")
    assert "wrong, expired or revoked" in page.inner_text("p.error")
    _sign_in(page, live_server)
    rows = page.locator("#worklist tbody tr[data-customer]")
    assert rows.count() > 0
    _shot(page, "1-worklist")

    collector = live_server.collectors[0]
    page.select_option("#filter-collector", collector)
    with page.expect_navigation():
        page.click("#filters button[type=submit]")
    assert "collector=" in page.url
    shown = page.locator("#worklist td.collector").all_inner_texts()
    assert shown and set(shown) == {collector}
    _shot(page, "2-filtered")

    # A customer in a dispute keeps "dispute handling" first; take one that is not.
    link = page.locator("#worklist tr[data-customer]:not([data-rule=dispute]) td a").first
    customer_id = link.locator("xpath=ancestor::tr").get_attribute("data-customer")
    link.click()
    page.wait_for_url(re.compile(r"/customers/"))
    assert page.locator("#summary").is_visible() and page.locator("svg.chart").count() == 1

    promised = datetime.now(UTC).date() + timedelta(days=PROMISE_IN_DAYS)
    page.select_option("#kind", "promise")
    page.fill("#promised_date", promised.isoformat())
    page.fill("#promised_amount", "1500")
    page.click("#action-form button[type=submit]")
    page.wait_for_url(re.compile(r"saved=promise"))
    shown_date = format_date(promised, format="medium", locale="en_US")
    assert page.inner_text("#snoozed-until") == shown_date
    _shot(page, "3-customer-promise")

    page.goto(live_server.url + "/worklist")
    snoozed = page.locator(f"#snoozed tr[data-customer='{customer_id}']")
    assert snoozed.locator("td.until").inner_text() == shown_date
    assert page.locator(f"#worklist tr[data-customer='{customer_id}']").count() == 0
    _shot(page, "4-snoozed")


def test_hebrew_pages_are_rtl_with_shekel_amounts(page: Any, live_server: Any) -> None:
    _sign_in(page, live_server)
    page.click("a[hreflang=he]")
    page.wait_for_url(re.compile(r"lang=he"))
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.get_attribute("html", "lang") == "he"
    amounts = page.locator("#worklist td.amount").all_inner_texts()
    assert amounts and all("₪" in amount for amount in amounts)
    assert page.locator("h1").first.inner_text().startswith("רשימת עבודה")
    _shot(page, "5-hebrew-worklist")
    page.goto(live_server.url + "/kpis")  # the language sticks without ?lang
    assert page.get_attribute("html", "dir") == "rtl"
    assert page.locator("svg.chart").count() >= 3
    _shot(page, "6-hebrew-kpis")
