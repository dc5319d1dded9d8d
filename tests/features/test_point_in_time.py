"""Point in time, proven (issue 3 item 2): nothing after t changes the features at t;
an invoice paid after t is open at t; a subset of customers gives the same rows."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.build import build_features, ledger_has_dispute_activities
from ledger.frames import Ledger
from ledger.settlement import covering_payment_dates

T = pd.Timestamp("2024-03-20")


def _ledger(kit) -> Ledger:  # type: ignore[no-untyped-def]
    """A generated ledger if the generator is there, else the hand-made random one."""
    try:
        from ledger.synthetic import generate_ledger  # type: ignore[attr-defined]
        from ledger.synthetic.config import GeneratorConfig
    except ImportError:
        return kit.random_ledger(5)
    generated: Ledger = generate_ledger(GeneratorConfig(customers=30, years=1.5)).ledger
    return generated


def _t_of(ledger: Ledger, quantile: float = 0.5) -> pd.Timestamp:
    """A t with history on both sides: a quantile of the issue dates."""
    issue = ledger.invoices["issue_date"].sort_values(ignore_index=True)
    return pd.Timestamp(issue.iloc[int(len(issue) * quantile)])


def _rewrite_the_future(ledger: Ledger, t: pd.Timestamp, seed: int) -> Ledger:
    """Change or delete everything dated after t; keep everything known at t."""
    rng = np.random.default_rng(seed)
    inv, pay, act = ledger.invoices.copy(), ledger.payments.copy(), ledger.activities.copy()
    later = inv["issue_date"] > t
    dropped = inv["invoice_id"][later & (rng.random(len(inv)) < 0.5)]
    inv = inv[~inv["invoice_id"].isin(dropped)]
    later = inv["issue_date"] > t
    inv.loc[later, "amount"] = inv.loc[later, "amount"] * 3 + 7
    inv.loc[later, "due_date"] = inv.loc[later, "due_date"] + pd.Timedelta(days=11)
    # Paid after t: another later date, or no paid date -- unless the invoice's payments
    # dated <= t already cover it (then the paid date is what keeps it open at t).
    covered_by_t = covering_payment_dates(inv, pay) <= t
    paid_later = (inv["paid_date"] > t) & ~covered_by_t
    coin = rng.random(len(inv)) < 0.5
    inv.loc[paid_later & coin, "paid_date"] = pd.NaT
    inv.loc[paid_later & ~coin, "paid_date"] += pd.Timedelta(days=23)
    pay = pay[~pay["invoice_id"].isin(dropped)]
    after = pay["payment_date"] > t
    pay = pay[~after | (rng.random(len(pay)) < 0.5)]
    after = pay["payment_date"] > t
    pay.loc[after, "amount"] = pay.loc[after, "amount"] / 2
    pay.loc[after, "payment_date"] += pd.Timedelta(days=5)
    open_at_t = inv[(inv["issue_date"] <= t) & inv["paid_date"].isna()]
    extra = pd.DataFrame(
        {
            "payment_id": "p-future-" + open_at_t["invoice_id"],
            "customer_id": open_at_t["customer_id"],
            "invoice_id": open_at_t["invoice_id"],
            "payment_date": t + pd.Timedelta(days=1),
            "amount": 1e6,
        }
    )
    act = act[act["date"] <= t]
    return Ledger.from_frames(
        customers=ledger.customers,
        invoices=inv,
        payments=pd.concat([pay, extra], ignore_index=True),
        activities=act,
    )


def _rows_at(ledger: Ledger, t: pd.Timestamp) -> pd.DataFrame:
    issued = ledger.invoices[ledger.invoices["issue_date"] <= t]
    return pd.DataFrame({"invoice_id": issued["invoice_id"], "as_of": t})


@pytest.mark.parametrize(("seed", "quantile"), [(0, 0.5), (1, 0.8)])
def test_changing_everything_after_t_leaves_the_features_at_t_identical(
    kit, seed, quantile
) -> None:  # type: ignore[no-untyped-def]
    ledger = _ledger(kit)
    t = _t_of(ledger, quantile)
    rows = _rows_at(ledger, t)
    rewritten = _rewrite_the_future(ledger, t, seed)
    assert len(rewritten.invoices) < len(ledger.invoices)  # the test really changed things
    # Where `disputed` comes from is a property of the data source, decided once.
    source = ledger_has_dispute_activities(ledger)
    before = build_features(ledger, rows, disputes_from_activities=source)
    after = build_features(rewritten, rows, disputes_from_activities=source)
    pd.testing.assert_frame_equal(after, before, check_exact=True)


def test_features_do_change_when_a_fact_before_t_changes(kit) -> None:  # type: ignore[no-untyped-def]
    """The control: the identity above is not because the features ignore the ledger."""
    ledger = _ledger(kit)
    t = _t_of(ledger)
    rows = _rows_at(ledger, t)
    paid_before = ledger.invoices["paid_date"] <= t
    changed = ledger.invoices.assign(
        paid_date=ledger.invoices["paid_date"].where(~paid_before, pd.NaT)
    )
    moved = Ledger.from_frames(
        **{**ledger.tables(), "invoices": changed, "payments": ledger.payments.iloc[:0]}
    )
    before, after = build_features(ledger, rows), build_features(moved, rows)
    assert (after["paid_invoices_count"] < before["paid_invoices_count"]).any()


def test_an_invoice_paid_after_t_is_open_at_t(kit) -> None:  # type: ignore[no-untyped-def]
    ledger = kit.ledger(
        [
            kit.invoice("i1", "2024-03-01", "2024-03-31", 100.0, paid="2024-04-05"),
            kit.invoice("i2", "2024-03-01", "2024-03-15", 50.0),
            kit.invoice("i3", "2024-03-02", "2024-04-01", 70.0),
        ],
        payments=[
            kit.payment("p1", "2024-03-10", 20.0, "i2"),
            kit.payment("p2", "2024-04-03", 30.0, "i2"),  # covers i2 after t
        ],
    )
    features = kit.features(
        ledger,
        ("i1", "2024-04-02"),
        ("i2", "2024-04-02"),
        ("i3", "2024-04-02"),
        ("i3", "2024-04-06"),
    )
    at_t = features.iloc[0]
    assert at_t["open_amount"] == 100.0
    assert at_t["paid_share"] == 0.0
    assert at_t["days_overdue"] == 2.0
    assert features["open_amount"].tolist()[:2] == [100.0, 30.0]
    assert features["paid_invoices_count"].tolist() == [0.0, 0.0, 0.0, 2.0]
    assert features["open_invoices_count"].tolist() == [3.0, 3.0, 3.0, 1.0]
    assert features["overdue_invoices_count"].tolist() == [3.0, 3.0, 3.0, 1.0]
    assert features["overdue_invoices_amount"].tolist()[0] == 100.0 + 30.0 + 70.0


def test_a_subset_of_customers_gives_the_same_rows(kit) -> None:  # type: ignore[no-untyped-def]
    ledger = _ledger(kit)
    rows = pd.concat(
        [_rows_at(ledger, _t_of(ledger)), _rows_at(ledger, _t_of(ledger) + pd.Timedelta(days=45))],
        ignore_index=True,
    )
    whole = build_features(ledger, rows, disputes_from_activities=True)
    customers = ledger.invoices["customer_id"].drop_duplicates().iloc[::2]
    part = Ledger(
        **{
            name: table[table["customer_id"].isin(customers)].reset_index(drop=True)
            for name, table in ledger.tables().items()
        }
    )
    part_rows = rows[rows["invoice_id"].isin(part.invoices["invoice_id"])]
    subset = build_features(part, part_rows, disputes_from_activities=True)
    expected = whole[whole["customer_id"].isin(customers)].reset_index(drop=True)
    assert 0 < len(subset) < len(whole)
    pd.testing.assert_frame_equal(subset, expected, check_exact=True)


def _customer_alone(ledger: Ledger, customer_id: str) -> Ledger:
    """One customer's rows of every table, as ``serving`` reads a stored customer."""
    return Ledger(
        **{
            name: table[table["customer_id"] == customer_id].reset_index(drop=True)
            for name, table in ledger.tables().items()
        }
    )


def test_each_customer_alone_gives_its_rows_of_the_whole_ledger(kit) -> None:  # type: ignore[no-untyped-def]
    """What stored-mode scoring relies on: a customer's features from its own rows alone
    equal its rows of the all-customers call, with the default ``disputed`` source."""
    ledger = _ledger(kit)
    t = _t_of(ledger)
    rows = pd.concat(
        [_rows_at(ledger, t), _rows_at(ledger, t + pd.Timedelta(days=60))], ignore_index=True
    )
    whole = build_features(ledger, rows)
    row_customer = whole["customer_id"].to_numpy(dtype=object)
    pieces = []
    for customer_id in ledger.customers["customer_id"]:
        mine = np.flatnonzero(row_customer == customer_id)
        alone = build_features(
            _customer_alone(ledger, customer_id), rows.iloc[mine].reset_index(drop=True)
        )
        pieces.append(alone.set_axis(mine))
    each = pd.concat(pieces).sort_index()
    assert each.index.tolist() == list(range(len(whole)))  # every row built exactly once
    assert whole["customer_id"].nunique() > 5
    pd.testing.assert_frame_equal(each, whole, check_exact=True)
