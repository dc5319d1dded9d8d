"""Incremental worklist facts (``serving.worklist_facts``) equal a full ``customer_facts``."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

import serving.worklist_facts as worklist_facts
from ledger.db_schema import SQL_TABLES
from ledger.frames import Ledger
from ledger.scores_store import write_scores
from ledger.store import LedgerStore
from ledger.synthetic import GeneratorConfig, generate_ledger
from payrisk.settings import Settings
from serving.auth import create_key
from serving.worklist import customer_facts
from serving.worklist_facts import IncrementalFacts
from serving.worklist_reads import build_worklist

AS_OF = pd.Timestamp("2026-11-30")
LONG_AGO = "'2020-01-01 00:00:00'"  # SQL: text as SQLite stores it, a timestamp to PostgreSQL


@pytest.fixture
def store(database_url: str) -> Iterator[LedgerStore]:
    yield from _seeded_store(database_url)


@pytest.fixture
def postgres_store(postgres_url: str) -> Iterator[LedgerStore]:
    """PostgreSQL only: SQLite serializes writers, so no write can commit during an update."""
    yield from _seeded_store(postgres_url)


def _seeded_store(database_url: str) -> Iterator[LedgerStore]:
    store = LedgerStore.from_url(database_url)
    store.migrate()
    ledger = generate_ledger(GeneratorConfig(customers=12, years=1.0, seed=3)).ledger
    store.upsert(ledger)
    # the seed rows are old news: only the test's writes fall within the watermark's overlap
    with store.engine.begin() as connection:
        for table in SQL_TABLES.values():
            connection.execute(table.update().values(updated_at=sa.text(LONG_AGO)))
    yield store
    store.dispose()


@pytest.fixture
def recomputed(monkeypatch: pytest.MonkeyPatch) -> list[int]:
    """How many customers each ``customer_facts`` call of the module computed."""
    sizes: list[int] = []

    def counting(ledger: Ledger, as_of: pd.Timestamp | str) -> pd.DataFrame:
        sizes.append(len(ledger.customers))
        return customer_facts(ledger, as_of)

    monkeypatch.setattr(worklist_facts, "customer_facts", counting)
    return sizes


def _assert_equal_to_full(facts: IncrementalFacts, store: LedgerStore) -> None:
    pd.testing.assert_frame_equal(facts.state(AS_OF).facts, customer_facts(store.load(), AS_OF))


def _random_writes(store: LedgerStore, rng: np.random.Generator, round_number: int) -> None:
    """A few upserts as the API makes them: changed invoices, payments, activities, customers."""
    ledger = store.load()
    invoices = ledger.invoices.sample(3, random_state=int(rng.integers(1 << 31))).copy()
    invoices["amount"] = invoices["amount"] + 10.0
    invoices.loc[invoices.index[0], "paid_date"] = pd.NaT
    invoices.loc[invoices.index[1], "due_date"] = AS_OF - pd.Timedelta(days=45)
    paid = ledger.invoices.iloc[[int(rng.integers(len(ledger.invoices)))]]
    payments = pd.DataFrame(
        {
            "payment_id": [f"T-PAY-{round_number}"],
            "customer_id": paid["customer_id"].to_numpy(),
            "invoice_id": paid["invoice_id"].to_numpy(),
            "payment_date": [AS_OF - pd.Timedelta(days=int(rng.integers(1, 60)))],
            "amount": paid["amount"].to_numpy(),
        }
    )
    customer = str(rng.choice(ledger.customers["customer_id"].to_numpy()))
    kinds = ["promise", "dispute_opened", "call", "reassign", "dispute_resolved", "note"]
    activities = pd.DataFrame(
        {
            "activity_id": [f"T-ACT-{round_number}-{k}" for k in range(3)],
            "customer_id": [customer] * 3,
            "date": [AS_OF - pd.Timedelta(days=int(d)) for d in rng.integers(0, 40, 3)],
            "kind": list(rng.choice(kinds, 3)),
            "promised_date": [AS_OF + pd.Timedelta(days=int(d)) for d in rng.integers(-20, 20, 3)],
            "promised_amount": [100.0, None, 50.0],
            "text": ["Dana", "Avi", None],
        }
    )
    newcomer = pd.DataFrame({"customer_id": [f"T-NEW-{round_number}"], "collector": ["Noa"]})
    customers = ledger.customers.sample(1, random_state=round_number).assign(collector="Omer")
    store.upsert(
        Ledger.from_frames(
            customers=pd.concat([customers, newcomer], ignore_index=True),
            invoices=invoices,
            payments=payments,
            activities=activities,
        )
    )


def test_random_writes_give_the_full_answer(store: LedgerStore, recomputed: list[int]) -> None:
    facts = IncrementalFacts(store)
    _assert_equal_to_full(facts, store)
    total = len(store.load().customers)
    assert recomputed == [total]
    rng = np.random.default_rng(11)
    for round_number in range(6):
        _random_writes(store, rng, round_number)
        _assert_equal_to_full(facts, store)
    assert facts.full_recomputes == 1 and facts.updates == 6
    # an update recomputes the customers written to (at most 7 a round), not the ledger;
    # SQLite's watermark overlaps by a minute, so there they pile up over the rounds
    assert recomputed[1] <= 7 < total
    if store.dialect_name == "postgresql":
        assert max(recomputed[1:]) <= 7


def test_an_unchanged_database_reuses_the_facts(store: LedgerStore, recomputed: list[int]) -> None:
    facts = IncrementalFacts(store)
    first = facts.state(AS_OF)
    assert facts.state(AS_OF) is first
    create_key(store, "elsewhere", ["score"])  # a write outside the ledger tables
    after_other_write = facts.state(AS_OF)
    assert after_other_write.version == first.version
    assert after_other_write.facts is first.facts and len(recomputed) == 1


def test_a_write_committed_after_the_update_started_is_not_missed(
    postgres_store: LedgerStore, postgres_url: str
) -> None:
    """A transaction that wrote (its ``updated_at`` is its start) before an update read the
    watermark, but commits after it, is seen by the next update (an update of a row: the
    row counts cannot give it away)."""
    store, database_url = postgres_store, postgres_url
    facts = IncrementalFacts(store)
    facts.state(AS_OF)
    ledger = store.load()
    unpaid = ~ledger.invoices["invoice_id"].isin(ledger.payments["invoice_id"])
    invoice = ledger.invoices.loc[unpaid].iloc[0]
    customer = str(invoice["customer_id"])
    invoices = SQL_TABLES["invoices"]
    reopen = (
        invoices.update()
        .where(invoices.c.invoice_id == invoice["invoice_id"])
        .values(
            issue_date=date(2026, 1, 1),
            due_date=date(2026, 2, 1),
            paid_date=None,
            updated_at=sa.func.now(),
        )
    )
    writer = LedgerStore.from_url(database_url)
    with writer.engine.connect() as connection:
        with connection.begin():
            connection.execute(reopen)
            # another write commits meanwhile, so an update runs while the first is in flight
            renamed = ledger.customers.tail(1).assign(name="Renamed Ltd")
            store.upsert(Ledger.from_frames(customers=renamed))
            before = facts.state(AS_OF).facts.loc[customer, "days_overdue"]
        after = facts.state(AS_OF).facts.loc[customer, "days_overdue"]
    writer.dispose()
    assert after == (AS_OF - pd.Timestamp("2026-02-01")).days != before
    assert facts.full_recomputes == 1 and facts.updates == 2
    _assert_equal_to_full(facts, store)


def test_moves_crossings_and_deletions_recompute_everything(store: LedgerStore) -> None:
    facts = IncrementalFacts(store)
    facts.state(AS_OF)
    ledger = store.load()
    first, second = ledger.customers["customer_id"].iloc[:2]
    moved = ledger.invoices.loc[ledger.invoices["customer_id"] == first].head(1)
    store.upsert(Ledger.from_frames(invoices=moved.assign(customer_id=second, paid_date=pd.NaT)))
    _assert_equal_to_full(facts, store)
    target = ledger.invoices.loc[ledger.invoices["customer_id"] == second].head(1)
    crossing = pd.DataFrame(
        {
            "payment_id": ["T-CROSS"],
            "customer_id": [first],
            "invoice_id": target["invoice_id"].to_numpy(),
            "payment_date": [AS_OF - pd.Timedelta(days=1)],
            "amount": target["amount"].to_numpy(),
        }
    )
    store.upsert(Ledger.from_frames(payments=crossing))
    _assert_equal_to_full(facts, store)
    with store.engine.begin() as connection:
        activities = SQL_TABLES["activities"]
        connection.execute(activities.delete().where(activities.c.customer_id == first))
    _assert_equal_to_full(facts, store)
    assert facts.full_recomputes == 4 and facts.updates == 0


def test_a_customers_facts_do_not_depend_on_other_customers_invoices() -> None:
    """A customer without invoices but with a broken promise: the same facts alone as in a
    ledger where someone else has invoices (what recomputing one customer relies on)."""
    customers = pd.DataFrame({"customer_id": ["A", "B"]})
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1"],
            "customer_id": ["B"],
            "issue_date": [pd.Timestamp("2026-01-01")],
            "due_date": [pd.Timestamp("2026-02-01")],
            "amount": [100.0],
        }
    )
    promise = pd.DataFrame(
        {
            "activity_id": ["P1"],
            "customer_id": ["A"],
            "date": [pd.Timestamp("2026-10-01")],
            "kind": ["promise"],
            "promised_date": [pd.Timestamp("2026-10-15")],
            "promised_amount": [50.0],
        }
    )
    whole = Ledger.from_frames(customers=customers, invoices=invoices, activities=promise)
    alone = Ledger.from_frames(customers=customers.head(1), activities=promise)
    expected = customer_facts(whole, AS_OF).loc[["A"]]
    assert expected.loc["A", "broken_promises"] == 1
    pd.testing.assert_frame_equal(customer_facts(alone, AS_OF), expected)


def _refresh(store: LedgerStore, p_over_30: float, scored_at: datetime) -> None:
    """A stored refresh scoring every invoice of the first three customers."""
    invoices = store.load().invoices
    chosen = invoices.loc[invoices["customer_id"].isin(invoices["customer_id"].unique()[:3])]
    count = len(chosen)
    reasons = {"method": "path", "en": [{"text": "paid late before"}]}
    scores = pd.DataFrame(
        {
            "model_name": "payment-risk",
            "model_version": "1",
            "as_of": AS_OF,
            "invoice_id": chosen["invoice_id"].to_numpy(object),
            "customer_id": chosen["customer_id"].to_numpy(object),
            "open_amount": 100.0,
            "currency": "USD",
            "bucket_probabilities": [{"on_time": 0.5}] * count,
            "p_late": 0.5,
            "p_over_30": p_over_30,
            "expected_days_late": 3.0,
            "predicted_payment_date": AS_OF,
            "reasons": [reasons] * count,
        }
    )
    write_scores(store, scores, scored_at=scored_at)


def test_the_worklist_follows_new_refreshes_and_reuses_its_ranking(
    store: LedgerStore, tmp_path: Path
) -> None:
    settings = Settings(data_dir=tmp_path, database_url=store.display_url)
    _refresh(store, 0.1, datetime(2026, 11, 30, 6, tzinfo=UTC))
    first, _facts, refresh = build_worklist(store, settings, AS_OF.date())
    assert build_worklist(store, settings, AS_OF.date())[0] is first  # nothing changed
    _refresh(store, 0.4, datetime(2026, 11, 30, 7, tzinfo=UTC))
    second, _facts, newer = build_worklist(store, settings, AS_OF.date())
    assert newer["scored_at"] > refresh["scored_at"]
    risk = second.set_index("customer_id")["amount_at_risk"]
    assert risk.to_numpy() == pytest.approx(first.set_index("customer_id")["amount_at_risk"] * 4)
