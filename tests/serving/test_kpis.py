"""Each KPI formula against values computed by hand on a 6-invoice ledger (as of 03-31)."""

from __future__ import annotations

import pandas as pd
import pytest

from ledger.frames import Ledger
from serving.kpis import kpi_snapshot, kpi_trend, worklist_effect
from serving.worklist import MissingRateError, WorklistParams

AS_OF = "2026-03-31"  # months back: (02-28, 03-31], (01-31, 02-28], (12-31, 01-31]


def _ledger(currencies: tuple[str, ...] = ("USD",) * 6) -> Ledger:
    customers = pd.DataFrame(
        {"customer_id": ["K1", "K2"], "segment": ["enterprise", "smb"], "collector": ["ann", "bob"]}
    )
    invoices = pd.DataFrame(
        {
            "invoice_id": ["J1", "J2", "J3", "J4", "J5", "J6"],
            "customer_id": ["K1", "K1", "K2", "K2", "K1", "K2"],
            "issue_date": pd.to_datetime(
                ["2026-01-10", "2026-02-15", "2026-03-05", "2026-03-20", "2025-11-01", "2026-02-01"]
            ),
            "due_date": pd.to_datetime(
                ["2026-02-09", "2026-03-17", "2026-04-04", "2026-04-19", "2025-12-01", "2026-03-03"]
            ),
            "amount": [300.0, 200.0, 400.0, 100.0, 50.0, 250.0],
            "currency": list(currencies),
            # J6 is paid after t: open at t.
            "paid_date": pd.to_datetime([None, None, None, "2026-03-25", None, "2026-04-05"]),
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P1", "P2"],
            "customer_id": ["K1", "K1"],
            "invoice_id": ["J2", "J1"],
            "payment_date": pd.to_datetime(["2026-03-20", "2026-04-02"]),  # P2 after t
            "amount": [50.0, 300.0],
        }
    )
    return Ledger.from_frames(customers=customers, invoices=invoices, payments=payments)


def _only_row(frame: pd.DataFrame) -> pd.Series:
    assert len(frame) == 1
    return frame.iloc[0]


def test_receivable_aging_and_share_current() -> None:
    row = _only_row(kpi_snapshot(_ledger(), AS_OF))
    assert row["receivable_amount"] == pytest.approx(1150.0)  # 300+150+400+50+250
    amounts = [row[f"aging_{b}_amount"] for b in ("current", "1-30", "31-60", "61-90", "90+")]
    counts = [row[f"aging_{b}_count"] for b in ("current", "1-30", "31-60", "61-90", "90+")]
    assert amounts == pytest.approx([400.0, 400.0, 300.0, 0.0, 50.0])
    assert counts == [1, 2, 1, 0, 1]
    assert row["share_current_pct"] == pytest.approx(100 * 400 / 1150)


def test_dso_count_back_simple_best_and_add() -> None:
    row = _only_row(kpi_snapshot(_ledger(), AS_OF))
    # 1150 = 500 (March, 31 d) + 450 (Feb, 28 d) + 200 of January's 300 (31 d).
    assert row["dso_count_back_days"] == pytest.approx(31 + 28 + 31 * 200 / 300)
    assert row["dso_simple_days"] == pytest.approx(1150 / 1250 * 90)
    # Current AR 400 is absorbed by March's 500 of sales.
    assert row["best_possible_dso_days"] == pytest.approx(31 * 400 / 500)
    assert row["add_days"] == pytest.approx(31 + 28 + 31 * 200 / 300 - 31 * 0.8)


def test_cei_over_the_month() -> None:
    row = _only_row(kpi_snapshot(_ledger(), AS_OF))
    # Opening AR at 02-28: J1 300 + J2 200 + J5 50 + J6 250 = 800; March sales 500.
    assert row["cei_pct"] == pytest.approx(100 * (800 + 500 - 1150) / (800 + 500 - 400))


def test_by_segment() -> None:
    frame = kpi_snapshot(_ledger(), AS_OF, group_by="segment").set_index("group")
    assert frame.loc["smb", "receivable_amount"] == pytest.approx(650.0)
    # 650 = March's 500 + 150 of February's 250.
    assert frame.loc["smb", "dso_count_back_days"] == pytest.approx(31 + 28 * 150 / 250)
    assert frame.loc["enterprise", "receivable_amount"] == pytest.approx(500.0)


def test_by_collector() -> None:
    frame = kpi_snapshot(_ledger(), AS_OF, group_by="collector").set_index("group")
    assert frame["receivable_amount"].to_dict() == pytest.approx({"ann": 500.0, "bob": 650.0})


def test_currencies_are_kept_apart_or_converted() -> None:
    ledger = _ledger(("USD", "USD", "EUR", "EUR", "USD", "EUR"))
    per_currency = kpi_snapshot(ledger, AS_OF).set_index("currency")
    assert per_currency["receivable_amount"].to_dict() == pytest.approx(
        {"EUR": 650.0, "USD": 500.0}
    )
    converted = _only_row(kpi_snapshot(ledger, AS_OF, None, "USD", {"EUR": 2.0}))
    assert converted["receivable_amount"] == pytest.approx(500.0 + 2 * 650.0)
    with pytest.raises(MissingRateError, match="EUR"):
        kpi_snapshot(ledger, AS_OF, None, "USD", {})


def test_point_in_time_later_facts_change_nothing() -> None:
    before = kpi_snapshot(_ledger(), AS_OF)
    ledger = _ledger()
    later_invoice = ledger.invoices.iloc[:1].assign(
        invoice_id="J9", issue_date=pd.Timestamp("2026-04-01"), due_date=pd.Timestamp("2026-05-01")
    )
    changed = Ledger.from_frames(
        customers=ledger.customers,
        invoices=pd.concat([ledger.invoices, later_invoice]),
        payments=ledger.payments,
    )
    pd.testing.assert_frame_equal(kpi_snapshot(changed, AS_OF), before)


def test_trend_has_one_row_per_month_end() -> None:
    trend = kpi_trend(_ledger(), AS_OF, months=3)
    assert trend["as_of"].dt.strftime("%Y-%m-%d").tolist() == [
        "2026-01-31",
        "2026-02-28",
        "2026-03-31",
    ]
    # At 01-31: J1 300 (current) and J5 50 (61 days past due).
    assert trend["receivable_amount"].tolist()[0] == pytest.approx(350.0)


def test_worklist_effect_top_vs_rest() -> None:
    customers = pd.DataFrame({"customer_id": ["A", "B", "C"]})
    invoices = pd.DataFrame(
        {
            "invoice_id": ["a1", "b1", "b2", "c1"],
            "customer_id": ["A", "B", "B", "C"],
            "issue_date": pd.to_datetime(["2026-01-01"] * 4),
            "due_date": pd.to_datetime(["2026-02-01", "2026-02-01", "2026-02-10", "2026-02-15"]),
            "amount": [100.0, 200.0, 50.0, 80.0],
            "paid_date": pd.to_datetime(["2026-03-10", None, "2026-04-15", None]),
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["p1"],
            "customer_id": ["C"],
            "invoice_id": ["c1"],
            "payment_date": pd.to_datetime(["2026-03-05"]),
            "amount": [30.0],
        }
    )
    ledger = Ledger.from_frames(customers=customers, invoices=invoices, payments=payments)
    scores = pd.DataFrame(
        {
            "invoice_id": ["a1", "b1", "b2", "c1"],
            "customer_id": ["A", "B", "B", "C"],
            "open_amount": [100.0, 200.0, 50.0, 80.0],
            "currency": ["USD"] * 4,
            "p_over_30": [0.9, 0.2, 0.2, 0.5],
            "reasons": ["[]"] * 4,
        }
    )
    effect = worklist_effect(scores, ledger, "2026-03-01", WorklistParams(), top_n=1)
    effect = effect.set_index("group")
    assert effect.loc["top", ["customers", "customers_paid"]].tolist() == [1, 1]
    assert effect.loc["top", "paid_share_pct"] == pytest.approx(100.0)
    assert effect.loc["rest", ["customers", "customers_paid"]].tolist() == [2, 1]
    assert effect.loc["rest", "overdue_amount"] == pytest.approx(330.0)
    assert effect.loc["rest", "paid_amount"] == pytest.approx(30.0)
