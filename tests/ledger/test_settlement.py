import pandas as pd

from ledger.frames import Ledger
from ledger.settlement import settled_dates, with_settled_dates


def _ledger() -> Ledger:
    invoices = pd.DataFrame(
        {
            "invoice_id": ["I1", "I2", "I3", "I4"],
            "customer_id": ["C1"] * 4,
            "issue_date": ["2025-01-01"] * 4,
            "due_date": ["2025-01-31"] * 4,
            "amount": [100.0, 100.0, 100.0, 50.0],
            "paid_date": ["2025-02-10", None, None, None],
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["P1", "P2", "P3", "P4", "P5"],
            "customer_id": ["C1"] * 5,
            # I2 is covered in two parts; I3 only partly; P5 is unapplied.
            "invoice_id": ["I2", "I2", "I3", "I1", None],
            "payment_date": ["2025-02-01", "2025-02-20", "2025-02-05", "2025-01-15", "2025-03-01"],
            "amount": [60.0, 39.995, 40.0, 100.0, 500.0],
        }
    )
    return Ledger.from_frames(invoices=invoices, payments=payments)


def test_paid_date_wins_then_covering_payment_then_open() -> None:
    ledger = _ledger()
    settled = settled_dates(ledger.invoices, ledger.payments)
    expected = pd.Series(
        pd.to_datetime(["2025-02-10", "2025-02-20", None, None]), dtype="datetime64[ns]"
    )
    pd.testing.assert_series_equal(settled, expected, check_names=False)


def test_with_settled_dates_leaves_input_untouched() -> None:
    ledger = _ledger()
    before = ledger.invoices.copy()
    filled = with_settled_dates(ledger.invoices, ledger.payments)
    pd.testing.assert_frame_equal(ledger.invoices, before)
    assert filled["paid_date"].notna().tolist() == [True, True, False, False]


def test_no_payments_keeps_paid_dates() -> None:
    ledger = _ledger()
    settled = settled_dates(ledger.invoices, ledger.payments.iloc[0:0])
    assert settled.notna().tolist() == [True, False, False, False]


def test_payments_that_cover_nothing_leave_invoices_open() -> None:
    ledger = _ledger()
    partial = ledger.payments[ledger.payments["payment_id"] == "P3"]
    settled = settled_dates(ledger.invoices.assign(paid_date=pd.NaT), partial)
    assert settled.isna().all()
    assert str(settled.dtype) == "datetime64[ns]"
