"""Property-based tests (hypothesis): the stateless scorer on random customer ledgers.

Random histories (dates in any order, amounts of any sign, payments larger than their
invoice, unknown references, odd activity kinds, as-of dates before or after it all) go
to ``POST /v1/scores:stateless`` with the session's real model. Every answer is a 200
whose probabilities are sane, or a 422 whose every error names a field and a reason:
never a 500. Bounded: derandomized, a few dozen examples.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from payrisk.settings import Settings
from tests.bounded import bounded

DAYS = st.integers(min_value=-800, max_value=200).map(
    lambda offset: (date(2026, 11, 30) + timedelta(days=offset)).isoformat()
)
AMOUNTS = st.one_of(
    st.floats(min_value=-1e6, max_value=1e9, allow_nan=False, allow_infinity=False),
    st.sampled_from([0.0, 0.01, 1e14]),
)
IDS = st.sampled_from(["INV-1", "INV-2", "INV-3", "X"])
KINDS = st.sampled_from(
    ["reminder", "call", "promise", "dispute_opened", "dispute_resolved", "note", "other", None]
)


def _invoice(number: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "invoice_id": st.just(f"INV-{number}"),
            "customer_id": st.sampled_from(["C-1", "C-2"]),
            "issue_date": DAYS,
            "due_date": DAYS,
            "amount": AMOUNTS,
            "currency": st.sampled_from(["USD", "ILS", "usd", None]),
            "terms": st.sampled_from(["net30", "eom+60", "שוטף+30", "bogus", None]),
            "disputed": st.sampled_from([True, False, None]),
            "paid_date": st.one_of(st.none(), DAYS),
        }
    )


def _payment(number: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "payment_id": st.just(f"PAY-{number}"),
            "customer_id": st.sampled_from(["C-1", "C-2"]),
            "invoice_id": st.one_of(st.none(), IDS),
            "payment_date": DAYS,
            "amount": AMOUNTS,
        }
    )


def _activity(number: int) -> st.SearchStrategy[dict[str, Any]]:
    return st.fixed_dictionaries(
        {
            "activity_id": st.just(f"ACT-{number}"),
            "customer_id": st.just("C-1"),
            "invoice_id": st.one_of(st.none(), IDS),
            "date": DAYS,
            "kind": KINDS,
            "promised_date": st.one_of(st.none(), DAYS),
            "promised_amount": st.one_of(st.none(), AMOUNTS),
        }
    )


@st.composite
def histories(draw: st.DrawFn) -> dict[str, Any]:
    """One customer's random history, as the stateless route takes it."""
    invoices = draw(st.integers(0, 4))
    payments = draw(st.integers(0, 3))
    activities = draw(st.integers(0, 3))
    return {
        "customer": {
            "customer_id": "C-1",
            "currency": draw(st.sampled_from(["USD", "ILS", None])),
            "credit_limit": draw(st.one_of(st.none(), AMOUNTS)),
            "created_date": draw(st.one_of(st.none(), DAYS)),
        },
        "invoices": [draw(_invoice(n)) for n in range(1, invoices + 1)],
        "payments": [draw(_payment(n)) for n in range(1, payments + 1)],
        "activities": [draw(_activity(n)) for n in range(1, activities + 1)],
        "as_of": draw(DAYS),
        "lang": draw(st.sampled_from(["en", "he"])),
    }


@pytest.fixture
def scoring_client(
    registry: Any,
    service_settings: Callable[..., Settings],
    client_for: Callable[[Settings], TestClient],
    keys_for: Callable[[TestClient], dict[str, str]],
) -> TestClient:
    client = client_for(service_settings(mlflow_tracking_uri=registry.tracking_uri))
    client.headers["Authorization"] = f"Bearer {keys_for(client)['score']}"
    return client


def _check_answer(status: int, body: dict[str, Any]) -> None:
    assert status in (200, 422), (status, body)
    if status == 422:
        assert body["detail"]
        for error in body.get("errors", []):
            assert error["field"] and error["reason"], error
        return
    for invoice in body["customer"]["invoices"]:
        probabilities = invoice["bucket_probabilities"].values()
        assert all(0 <= p <= 1 for p in probabilities), invoice
        assert abs(sum(probabilities) - 1) < 1e-6, invoice
        assert 0 <= invoice["p_over_30"] <= invoice["p_late"] <= 1, invoice
        assert invoice["open_amount"] > 0, invoice


def test_random_histories_are_scored_or_refused_with_reasons(scoring_client: TestClient) -> None:
    outcomes: list[int] = []

    @given(history=histories())
    @bounded(40)
    def score(history: dict[str, Any]) -> None:
        response = scoring_client.post("/v1/scores:stateless", json=history)
        outcomes.append(response.status_code)
        _check_answer(response.status_code, response.json())

    score()
    # Both kinds of answer were exercised, not only refusals.
    assert {200, 422} <= set(outcomes), sorted(set(outcomes))
