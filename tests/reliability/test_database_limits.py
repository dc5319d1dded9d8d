"""The service's bounds on the database: statement timeout, connect timeout, pool wait.

Each turns into a 503 with the JSON body that says the database is unavailable, never a
hang or a 500.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from fastapi.testclient import TestClient

from ledger.store import ConnectionLimits, LedgerStore, StoreUnavailable
from payrisk.settings import Settings
from serving.app import create_app


@pytest.mark.postgres
def test_a_stuck_statement_is_cancelled_by_the_server(postgres_url: str) -> None:
    limits = ConnectionLimits(statement_timeout_seconds=0.3)
    with LedgerStore.from_url(postgres_url, limits) as store:
        with store.engine.connect() as connection:
            assert connection.execute(sa.text("show statement_timeout")).scalar() == "300ms"
            started = time.monotonic()
            with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
                connection.execute(sa.text("select pg_sleep(5)"))
        assert time.monotonic() - started < 4
        assert store.engine.pool._pre_ping  # type: ignore[attr-defined]


def test_an_unreachable_server_fails_within_the_connect_timeout() -> None:
    # A non-routable address (TEST-NET-1): the connection attempt hangs until the timeout.
    url = "postgresql+psycopg://postgres@192.0.2.1:5432/payrisk"
    limits = ConnectionLimits(connect_timeout_seconds=1)
    store = LedgerStore.from_url(url, limits)
    started = time.monotonic()
    with pytest.raises(StoreUnavailable, match=r"192\.0\.2\.1"):
        store.revision()
    assert time.monotonic() - started < 8


def _app_raising(error: Exception, tmp_path: Path) -> TestClient:
    settings = Settings(
        data_dir=tmp_path,
        database_url=f"sqlite:///{tmp_path / 'p.db'}",
        mlflow_tracking_uri=f"sqlite:///{tmp_path / 'none' / 'm.db'}",
        model_poll_seconds=0,
    )
    app = create_app(settings)

    @app.get("/boom")
    def boom() -> None:
        raise error

    return TestClient(app, raise_server_exceptions=False)


@pytest.mark.parametrize(
    "error",
    [
        sa.exc.TimeoutError("QueuePool limit of size 5 overflow 10 reached"),
        sa.exc.OperationalError("select 1", {}, Exception("canceling statement due to timeout")),
    ],
    ids=["pool wait", "statement timeout"],
)
def test_database_waits_become_503_with_a_clear_body(error: Exception, tmp_path: Path) -> None:
    with _app_raising(error, tmp_path) as client:
        response = client.get("/boom")
    assert response.status_code == 503
    assert response.json() == {"detail": "the ledger database is unavailable; try again later"}
    assert response.headers["Retry-After"] == "5"
