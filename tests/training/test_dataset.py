"""The training frame: snapshots + features + dates + labels (+ oracle, never a feature)."""

from __future__ import annotations

from datetime import date

import pandas as pd
import pytest

from features.registry import FEATURE_NAMES
from ledger.frames import Ledger
from payrisk.settings import Settings
from training.dataset import (
    ORACLE_COLUMNS,
    ROW_KEY_COLUMNS,
    build_training_frame,
    data_cutoff_of,
    ledger_date_range,
)
from training.labels import LABEL_COLUMNS
from training.split import CutoffOutsideData


def _ledger() -> Ledger:
    invoices = pd.DataFrame(
        {
            "invoice_id": ["a", "b", "c"],
            "customer_id": ["x", "x", "y"],
            "issue_date": pd.to_datetime(["2024-01-02", "2024-02-01", "2024-02-20"]),
            "due_date": pd.to_datetime(["2024-02-01", "2024-03-02", "2024-03-21"]),
            "amount": [100.0, 250.0, 80.0],
            "paid_date": pd.to_datetime(["2024-02-10", None, None]),
        }
    )
    payments = pd.DataFrame(
        {
            "payment_id": ["p1"],
            "customer_id": ["y"],
            "invoice_id": ["c"],
            "payment_date": pd.to_datetime(["2024-03-25"]),
            "amount": [80.0],
        }
    )
    customers = pd.DataFrame({"customer_id": ["x", "y"], "credit_limit": [1000.0, 500.0]})
    return Ledger.from_frames(customers=customers, invoices=invoices, payments=payments)


def test_frame_has_rows_features_dates_labels_and_oracle() -> None:
    oracle = pd.DataFrame(
        {"invoice_id": ["a", "b", "c"], "p_late_true": [0.7, 0.2, 0.5], "p_over_30_true": 0.1}
    )
    frame = build_training_frame(_ledger(), Settings(), oracle=oracle)
    assert ledger_date_range(_ledger()) == (pd.Timestamp("2024-01-02"), pd.Timestamp("2024-03-25"))
    expected_columns = [
        *ROW_KEY_COLUMNS,
        *FEATURE_NAMES,
        "due_date",
        "settled_date",
        *LABEL_COLUMNS,
        *ORACLE_COLUMNS,
    ]
    assert list(frame.columns) == expected_columns
    assert not set(ORACLE_COLUMNS) & set(FEATURE_NAMES)
    # Grid: every other Monday (01-15, 01-29, ..., 03-25). a: issue 01-02 + 01-15, 01-29
    # (paid 02-10); b: open through the cutoff 03-25, itself a grid date; c: settled by
    # its payment on 03-25, so open for the last time on the 03-11 grid date.
    per_invoice = frame.groupby("invoice_id")["as_of"].agg(["min", "max", "size"])
    assert per_invoice.loc["a"].tolist() == [
        pd.Timestamp("2024-01-02"),
        pd.Timestamp("2024-01-29"),
        3,
    ]
    assert per_invoice.loc["b", "max"] == pd.Timestamp("2024-03-25")
    assert per_invoice.loc["c", "max"] == pd.Timestamp("2024-03-11")
    by_invoice = frame.drop_duplicates("invoice_id").set_index("invoice_id")
    assert by_invoice["settled_date"].tolist() == [
        pd.Timestamp("2024-02-10"),
        pd.NaT,
        pd.Timestamp("2024-03-25"),
    ]
    assert by_invoice["days_late"].tolist()[::2] == [9.0, 4.0]
    assert by_invoice.loc["b", "late"] == 1 and not by_invoice.loc["b", "over_30_known"]
    assert by_invoice["p_late_true"].tolist() == [0.7, 0.2, 0.5]
    assert frame.loc[frame["invoice_id"] == "a", "open_amount"].tolist() == [100.0] * 3


def test_training_cutoff_must_lie_in_the_data() -> None:
    assert data_cutoff_of(_ledger(), Settings(training_cutoff=date(2024, 3, 1))) == pd.Timestamp(
        "2024-03-01"
    )
    with pytest.raises(CutoffOutsideData, match="2024-05-01 is outside"):
        data_cutoff_of(_ledger(), Settings(training_cutoff=date(2024, 5, 1)))
    frame = build_training_frame(_ledger(), Settings(training_cutoff=date(2024, 3, 1)))
    assert frame["as_of"].max() <= pd.Timestamp("2024-03-01")
    # b is due 03-02: open and not yet due at the cutoff, so nothing about it is known
    assert not frame.loc[frame["invoice_id"] == "b", "late_known"].any()
