"""Stored-mode answers: one customer's risk response, alone or in a batch of misses.

``customer_answer`` scores one customer's ledger rows (stored or sent by the caller).
``score_misses`` answers several stored customers at once for the micro-batcher
(``serving.micro_batch``): one read of all their rows, one ``score_ledger`` call, then
each customer's response cut out of the result. ``score_ledger`` computes a customer's
numbers from that customer's rows alone, so each body is byte for byte the one
``customer_answer`` gives for that customer by itself (tested); an unknown customer or an
``as_of`` before a customer's data gets the same 404 / 422 as alone, for that customer
only.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, date, datetime

import pandas as pd

from ledger.frames import Ledger
from ledger.store import LedgerStore
from models.rollup import RiskTiers
from payrisk.settings import Settings
from serving.answer_cache import CachedAnswer
from serving.errors import ApiError
from serving.ledger_reads import read_customers
from serving.model_holder import ModelSnapshot
from serving.schemas.scores import CustomerRisk, CustomerRiskResponse, Lang, ModelRef
from serving.scored import Scored
from serving.scoring import (
    AsOfOutOfRange,
    ModelIncompatible,
    check_as_of,
    data_start_by_customer,
    score_ledger,
)

# An empty ledger, made once (frames are never modified): the date checks of no data
_NO_DATA = Ledger.from_frames()


def today() -> date:
    """Today in UTC: the default as-of date."""
    return datetime.now(UTC).date()


def model_ref(snapshot: ModelSnapshot) -> ModelRef:
    """The model an answer came from."""
    return ModelRef(name=snapshot.name, version=snapshot.version)


def score(
    snapshot: ModelSnapshot,
    ledger: Ledger,
    as_of: pd.Timestamp,
    ids: Sequence[str],
    lang: Lang,
    settings: Settings,
) -> Scored:
    """``score_ledger`` with the service's reasons method and tiers; 503 for a model that
    does not fit this payrisk."""
    tiers = RiskTiers.from_settings(settings)
    method = settings.score_reasons_method
    try:
        return score_ledger(
            snapshot.model, ledger, as_of, ids, langs=(lang,), method=method, tiers=tiers
        )
    except ModelIncompatible as error:
        raise ApiError(503, str(error), model=snapshot.model_uri) from error


def _response(
    snapshot: ModelSnapshot, scored: Scored, position: int, lang: Lang
) -> CustomerRiskResponse:
    return CustomerRiskResponse(
        model=model_ref(snapshot),
        as_of=scored.as_of.date(),
        lang=lang,
        reasons_method=scored.reasons_method,
        customer=CustomerRisk.from_scored(scored, position, lang),
    )


def _check_as_of(ledger: Ledger, as_of: date, settings: Settings) -> pd.Timestamp:
    return check_as_of(ledger, as_of, today=today(), max_future_days=settings.score_max_future_days)


def customer_answer(
    snapshot: ModelSnapshot,
    settings: Settings,
    ledger: Ledger,
    customer_id: str,
    as_of: date | None,
    lang: Lang,
) -> CustomerRiskResponse:
    """One customer's risk from its ledger rows (stored or sent)."""
    when = _check_as_of(ledger, as_of or today(), settings)
    return _response(
        snapshot, score(snapshot, ledger, when, [customer_id], lang, settings), 0, lang
    )


def _one_customer(ledger: Ledger, customer_id: str) -> Ledger:
    return Ledger(
        **{
            name: frame[frame["customer_id"] == customer_id].reset_index(drop=True)
            for name, frame in ledger.tables().items()
        }
    )


def _refusal(ledger: Ledger, customer_id: str, as_of: date, settings: Settings) -> Exception:
    """What asking about ``customer_id`` alone would raise (404, or the as-of 422)."""
    if customer_id not in set(ledger.customers["customer_id"].astype(str)):
        return ApiError(404, f"no customer {customer_id!r} in the ledger", customer_id=customer_id)
    try:
        _check_as_of(_one_customer(ledger, customer_id), as_of, settings)
    except AsOfOutOfRange as error:
        return error
    return RuntimeError(f"customer {customer_id!r} was refused for no known reason")


def score_misses(
    store: LedgerStore,
    snapshot: ModelSnapshot,
    settings: Settings,
    as_of: date,
    lang: Lang,
    customer_ids: Sequence[str],
) -> list[CachedAnswer | Exception]:
    """The answers about ``customer_ids`` (same model, as-of date and language), computed
    together; per id its (tier, JSON body), or the error it alone would get."""
    try:
        when = _check_as_of(_NO_DATA, as_of, settings)  # future or pre-1900
    except AsOfOutOfRange as error:
        return [error] * len(customer_ids)
    ids = list(dict.fromkeys(customer_ids))
    ledger = read_customers(store, ids)
    known = set(ledger.customers["customer_id"].astype(str))
    starts = data_start_by_customer(ledger)
    scorable = [
        customer_id
        for customer_id in ids
        if customer_id in known
        and not (pd.notna(starts.get(customer_id)) and when < starts[customer_id])
    ]
    scored = score(snapshot, ledger, when, scorable, lang, settings)
    answers: dict[str, CachedAnswer | Exception] = {}
    for position, customer_id in enumerate(scorable):
        response = _response(snapshot, scored, position, lang)
        answers[customer_id] = (response.customer.risk_tier, response.model_dump_json().encode())
    for customer_id in ids:
        if customer_id not in answers:
            answers[customer_id] = _refusal(ledger, customer_id, as_of, settings)
    return [answers[customer_id] for customer_id in customer_ids]
