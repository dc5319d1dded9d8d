"""Property-based fuzz of the whole OpenAPI document (schemathesis): no input yields a 5xx.

The app serves the session's real model, its ledger holds the customer, invoice, payment
and activity of the API's own examples (so the examples phase scores a real customer),
and every request carries a key with every scope: the fuzz reaches the route bodies, not
only the auth checks. Bounded: a few examples per operation, no example database.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

import pandas as pd
import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.python import asgi

from ledger.frames import Ledger
from payrisk.settings import Settings
from serving.auth import SCOPES, create_key
from serving.schemas.ledger import LedgerBatch

# Valid inputs (by the schema) and invalid ones, per operation; derandomized: reproducible.
# `make fuzz` sets PAYRISK_FUZZ_EXAMPLES (valid inputs per operation; invalid: 60% of it)
# for a longer, randomized run.
FUZZ_EXAMPLES = int(os.environ.get("PAYRISK_FUZZ_EXAMPLES", "0"))
EXAMPLES_PER_MODE = (
    {
        GenerationMode.POSITIVE: FUZZ_EXAMPLES,
        GenerationMode.NEGATIVE: max(1, FUZZ_EXAMPLES * 3 // 5),
    }
    if FUZZ_EXAMPLES
    else {GenerationMode.POSITIVE: 10, GenerationMode.NEGATIVE: 6}
)


def _example_ledger() -> Ledger:
    """The rows of the batch example in the OpenAPI document."""
    example = LedgerBatch.model_config["json_schema_extra"]["examples"][0]  # type: ignore[index]
    frames = {name: pd.DataFrame(rows) for name, rows in example.items()}
    for name, column in (
        ("customers", "created_date"),
        ("invoices", "issue_date"),
        ("invoices", "due_date"),
        ("payments", "payment_date"),
        ("activities", "date"),
        ("activities", "promised_date"),
    ):
        frames[name][column] = pd.to_datetime(frames[name][column])
    return Ledger.from_frames(**frames)


@pytest.fixture
def fuzz_target(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
) -> tuple[FastAPI, str]:
    """A started app with a model and the example ledger, and a key holding every scope."""
    client = client_for(
        service_settings(mlflow_tracking_uri=registry.tracking_uri, max_batch_rows=50)
    )
    app = client.app
    assert isinstance(app, FastAPI)
    app.state.store.upsert(_example_ledger())
    key = create_key(app.state.store, "fuzz", SCOPES).key
    return app, key


def _operations(app: FastAPI) -> list[Any]:
    schema = schemathesis.openapi.from_dict(app.openapi())
    schema.app = app
    return [result.ok() for result in schema.get_all_operations()]


def test_no_input_gives_a_server_error(fuzz_target: tuple[FastAPI, str]) -> None:
    """Every operation, valid and invalid inputs; the failures listed with a curl reproducer."""
    app, key = fuzz_target
    auth = {"Authorization": f"Bearer {key}"}
    # An ASGI client that is never entered: the app's lifespan already ran (client_for).
    session = asgi.get_client(app)
    failures: list[str] = []

    def probe(case: Any) -> None:
        try:
            response = case.call(session=session, headers=auth)
            outcome = f"{response.status_code}: {response.text[:300]}"
            failed = response.status_code >= 500
        except Exception as error:  # the app's 500 handler re-raises in the test client
            outcome, failed = f"500 ({type(error).__name__}: {str(error)[:300]})", True
        if failed:
            failures.append(
                f"{case.method} {case.formatted_path} -> {outcome}\n"
                f"  reproduce: {case.as_curl_command(headers=auth)}"
            )

    operations = _operations(app)
    assert len(operations) >= 15
    for operation in operations:
        for mode, examples in EXAMPLES_PER_MODE.items():
            strategy = operation.as_strategy(generation_mode=mode, headers=auth)
            run = settings(
                max_examples=examples,
                deadline=None,
                database=None,
                derandomize=not FUZZ_EXAMPLES,
                suppress_health_check=list(HealthCheck),
            )(given(case=strategy)(probe))
            try:
                run()
            except Unsatisfiable:
                continue  # no invalid input exists (e.g. an operation without parameters)
    assert not failures, "\n".join(failures)
