"""Activities as of t: reminders, promises made and broken, disputes, last contact, and
the point-in-time source of the invoice's ``disputed`` flag."""

from __future__ import annotations

import pytest

from ledger.frames import Ledger

ACTIVITY = (
    "reminders_last_90d",
    "promises_count",
    "broken_promises_count",
    "open_disputes_count",
    "days_since_last_contact",
)


@pytest.fixture
def ledger(kit) -> Ledger:  # type: ignore[no-untyped-def]
    return kit.ledger(
        [
            kit.invoice("i1", "2024-01-01", "2024-01-31", 100.0, disputed=True),
            kit.invoice("i2", "2024-01-01", "2024-01-31", 200.0, disputed=False),
        ],
        payments=[
            kit.payment("p1", "2024-02-08", 60.0, "i1"),
            kit.payment("p2", "2024-02-20", 30.0, None),
        ],
        activities=[
            kit.activity("a1", "2023-10-01", "reminder", "i1"),  # > 90 days before t
            kit.activity("a2", "2024-02-01", "reminder", "i1"),
            kit.activity("a3", "2024-02-02", "reminder", "i2"),
            # Kept: 60 paid to i1 by 02-10 covers the 50 promised.
            kit.activity(
                "a4",
                "2024-02-03",
                "promise",
                "i1",
                promised_date="2024-02-10",
                promised_amount=50.0,
            ),
            # Broken: nothing paid to i2 by 02-15.
            kit.activity(
                "a5",
                "2024-02-05",
                "promise",
                "i2",
                promised_date="2024-02-15",
                promised_amount=80.0,
            ),
            # Customer-level, kept by the unapplied 30 on 02-20.
            kit.activity(
                "a6",
                "2024-02-12",
                "promise",
                None,
                promised_date="2024-02-25",
                promised_amount=25.0,
            ),
            # Customer-level, broken only after its promised date passes (03-01 < t).
            kit.activity(
                "a7",
                "2024-02-21",
                "promise",
                None,
                promised_date="2024-03-01",
                promised_amount=10.0,
            ),
            kit.activity("a8", "2024-02-06", "dispute_opened", "i2"),
            kit.activity("a9", "2024-02-16", "dispute_resolved", "i2"),
            kit.activity("a10", "2024-02-18", "dispute_opened", "i1"),
        ],
    )


def _activities(kit, ledger: Ledger, as_of: str) -> list[float]:  # type: ignore[no-untyped-def]
    row = kit.features(ledger, ("i1", as_of)).iloc[0]
    return [float(row[name]) for name in ACTIVITY]


def test_counts_at_t(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    assert _activities(kit, ledger, "2024-03-01") == [2, 4, 1, 1, 9]


def test_a_promise_breaks_the_day_after_its_promised_date(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    assert _activities(kit, ledger, "2024-02-15")[2] == 0  # a5 not yet broken at 02-15
    assert _activities(kit, ledger, "2024-02-16")[2] == 1
    assert _activities(kit, ledger, "2024-03-02")[2] == 2  # a7 broken too


def test_disputes_open_and_resolve_in_time(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    assert _activities(kit, ledger, "2024-02-10")[3] == 1
    assert _activities(kit, ledger, "2024-02-17")[3] == 0


def test_disputed_follows_the_activities_when_there_are_any(kit, ledger: Ledger) -> None:  # type: ignore[no-untyped-def]
    features = kit.features(
        ledger,
        ("i1", "2024-02-17"),
        ("i1", "2024-02-18"),
        ("i2", "2024-02-10"),
        ("i2", "2024-02-16"),
    )
    # i1's static flag (True) is not used: its dispute opens 02-18.
    assert features["disputed"].tolist() == [0.0, 1.0, 1.0, 0.0]


def test_disputed_falls_back_to_the_static_flag(kit) -> None:  # type: ignore[no-untyped-def]
    ledger = kit.ledger(
        [
            kit.invoice("i1", "2024-01-01", "2024-01-31", disputed=True, paperless=False),
            kit.invoice("i2", "2024-01-01", "2024-01-31", disputed=None, paperless=True),
        ],
        activities=[kit.activity("a1", "2024-01-05", "reminder", "i1")],
    )
    features = kit.features(ledger, ("i1", "2024-01-02"), ("i2", "2024-01-02"))
    assert features["disputed"].tolist()[0] == 1.0
    assert features["disputed"].isna().tolist() == [False, True]
    assert features["paperless"].tolist() == [0.0, 1.0]
    assert features["days_since_last_contact"].isna().all()  # a1 is after t


def test_disputed_source_is_chosen_per_customer(kit) -> None:  # type: ignore[no-untyped-def]
    """c1 records disputes as activities, c2 only flags invoices: each keeps its own source,
    so c2's answer is the same alone as beside c1 (a partition, a stateless history)."""
    c1_invoice = kit.invoice("i1", "2024-01-01", "2024-01-31", disputed=True, customer="c1")
    c2_invoice = kit.invoice("i2", "2024-01-01", "2024-01-31", disputed=True, customer="c2")
    c1_dispute = kit.activity("a1", "2024-01-20", "dispute_opened", "i1", customer="c1")
    both = kit.ledger([c1_invoice, c2_invoice], activities=[c1_dispute])
    alone = kit.ledger([c2_invoice])
    together = kit.features(both, ("i1", "2024-01-10"), ("i1", "2024-01-25"), ("i2", "2024-01-10"))
    # c1: the activities (closed at 01-10 despite the flag, open at 01-25); c2: its flag.
    assert together["disputed"].tolist() == [0.0, 1.0, 1.0]
    assert kit.features(alone, ("i2", "2024-01-10"))["disputed"].tolist() == [1.0]
