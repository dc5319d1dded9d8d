"""A real server for the browser tests: uvicorn on a free port, a trained champion, scores.

``live_server`` trains a tiny model on a small generated ledger (about two seconds), starts
``uvicorn serving.app:create_app --factory`` on 127.0.0.1 with a temporary SQLite ledger
and MLflow store, and refreshes the scores through the API. ``browser`` is Debian's
Chromium, headless, driven by Playwright; without it the tests skip, or fail under CI.
"""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts" / "browser"
# Shekels per unit: the pages report in ILS, so the worklist amounts carry the ₪ sign.
FX_RATES_TO_ILS = {"USD": 3.7, "EUR": 4.0, "GBP": 4.7}
SERVER_START_SECONDS = 60


def _service_missing(what: str, why: object) -> None:
    """Fail under CI (the browser must be there), skip on a developer's machine."""
    message = f"{what} is not available: {why}"
    if os.environ.get("CI"):
        pytest.fail(message + " (CI is set, so this is a failure, not a skip)")
    pytest.skip(message)


@dataclass(frozen=True)
class LiveServer:
    """The running server: its URL, a worklist key, and the customers it serves."""

    url: str
    worklist_key: str
    collectors: tuple[str, ...]
    ingest_key: str = ""  # for tests that add to the ledger (tests/browser/test_hostile.py)
    admin_key: str = ""


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def _wait_ready(url: str, process: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + SERVER_START_SECONDS
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the server exited with {process.returncode}")
        try:
            with urllib.request.urlopen(url + "/readyz", timeout=2) as answer:
                if answer.status == 200:
                    return
        except (urllib.error.URLError, ConnectionError, TimeoutError):
            pass
        time.sleep(0.2)  # polling a starting process, not waiting on a result
    raise RuntimeError(f"the server was not ready within {SERVER_START_SECONDS} s")


def _refresh_scores(url: str, admin_key: str) -> None:
    request = urllib.request.Request(
        url + "/v1/scores:refresh",
        data=b"{}",
        method="POST",
        headers={"Authorization": f"Bearer {admin_key}", "Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=120) as answer:
        assert json.load(answer)["invoices_scored"] > 0


@pytest.fixture(scope="session")
def live_server(
    tmp_path_factory: pytest.TempPathFactory, train_tiny_champion: Callable[[Path], Any]
) -> Iterator[LiveServer]:
    """uvicorn serving a scored ledger on 127.0.0.1 (plain http, so the cookie is not Secure)."""
    from ledger.store import LedgerStore
    from serving.auth import create_key

    folder = tmp_path_factory.mktemp("live")
    tiny = train_tiny_champion(folder)
    tracking_uri, ledger = tiny.settings.resolved_tracking_uri, tiny.ledger
    database_url = f"sqlite:///{folder / 'ledger.db'}"
    store = LedgerStore.from_url(database_url)
    store.migrate()
    store.upsert(ledger)  # type: ignore[arg-type]
    admin_key = create_key(store, "browser-admin", ["admin"]).key
    worklist_key = create_key(store, "browser-manager", ["worklist"]).key
    ingest_key = create_key(store, "browser-erp", ["ingest"]).key
    collectors = tuple(sorted(ledger.customers["collector"].dropna().unique()))  # type: ignore[attr-defined]
    store.dispose()
    port = _free_port()
    env = os.environ | {
        "PAYRISK_DATA_DIR": str(folder / "data"),
        "PAYRISK_DATABASE_URL": database_url,
        "PAYRISK_MLFLOW_TRACKING_URI": tracking_uri,
        "PAYRISK_MODEL_POLL_SECONDS": "0",
        "PAYRISK_REPORTING_CURRENCY": "ILS",
        "PAYRISK_FX_RATES": json.dumps(FX_RATES_TO_ILS),
        "PAYRISK_LOG_LEVEL": "WARNING",
    }
    command = [sys.executable, "-m", "uvicorn", "serving.app:create_app", "--factory"]
    command += ["--host", "127.0.0.1", "--port", str(port), "--log-level", "warning"]
    log = (folder / "server.log").open("wb")
    process = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        _wait_ready(url, process)
        _refresh_scores(url, admin_key)
        yield LiveServer(url, worklist_key, collectors, ingest_key, admin_key)
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
        log.close()


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    """Debian's Chromium, headless (never a downloaded one: no ``playwright install``)."""
    if not CHROMIUM.exists():
        _service_missing(f"Chromium at {CHROMIUM}", "apt-get install chromium")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError as error:
        _service_missing("the playwright package", error)
    with sync_playwright() as playwright:
        chromium = playwright.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=CHROMIUM_ARGS
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser: object, request: pytest.FixtureRequest) -> Iterator[object]:
    """A fresh browser context and page; a screenshot of its last state is kept."""
    context = browser.new_context(locale="en-US", viewport={"width": 1400, "height": 900})  # type: ignore[attr-defined]
    page = context.new_page()
    page.set_default_timeout(15_000)
    yield page
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / f"{request.node.name}-last.png"), full_page=True)
    context.close()
