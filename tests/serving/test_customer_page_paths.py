"""The customer page's shortcuts give what the general paths give, value for value.

The page computes ``settled_dates`` once and passes it down, ranks its row from facts it
computed itself, pairs promises with payments on arrays and sums its balances per
currency: each is checked here against the general path (or the merge it replaced) on
ledgers with partial payments, payments naming no invoice, invoices settled by their
``paid_date`` alone, reassignments, disputes and many promises.
"""

from __future__ import annotations

import itertools
from datetime import date
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from ledger.frames import Ledger
from ledger.scores_store import read_latest_scores, write_scores
from ledger.settlement import settled_dates
from ledger.store import LedgerStore
from ledger.synthetic import GeneratorConfig, generate_ledger
from payrisk.settings import Settings
from serving.ledger_reads import read_customers
from serving.policy import DEFAULT_RULES
from serving.promises import effective_payments, promise_status, promise_summary
from serving.web.customer_view import _balances, customer_view
from serving.worklist import (
    WorklistParams,
    assigned_collectors,
    customer_facts,
    rank_worklist,
)
from serving.worklist_reads import SCORE_COLUMNS, reasons_in, records
from tests.serving.test_promises import _ledger as promises_ledger
from tests.serving.test_worklist import _ledger as worklist_ledger

END = date(2026, 11, 30)
RATES = {"EUR": 1.08, "GBP": 1.27, "ILS": 0.27}
DATES = ["2025-12-31", "2026-02-09", "2026-02-15", "2026-06-15", "2026-11-30"]


@pytest.fixture(scope="module")
def synthetic() -> Ledger:
    return generate_ledger(GeneratorConfig(customers=25, years=1, seed=11, end=END)).ledger


def _ledgers(synthetic: Ledger) -> list[Ledger]:
    return [promises_ledger(), worklist_ledger(), synthetic]


def _paid_by_merge(ledger: Ledger, promises: pd.DataFrame, as_of: str) -> pd.Series:
    """What each promise was paid, by the merge ``promise_status`` used before arrays."""
    payments = effective_payments(ledger, pd.Timestamp(as_of))
    end = promises["promised_date"].where(promises["promised_date"] <= as_of, as_of)
    end = end.clip(lower=promises["made_date"])
    paid = {}
    for key in ("invoice_id", "customer_id"):
        pairs = promises[["activity_id", key, "made_date"]].assign(end=end.to_numpy())
        pairs = pairs.loc[pairs[key].notna()]
        joined = pairs.merge(payments[[key, "payment_date", "amount"]], on=key, how="inner")
        in_span = (joined["payment_date"] >= joined["made_date"]) & (
            joined["payment_date"] <= joined["end"]
        )
        total = joined.loc[in_span].groupby("activity_id")["amount"].sum()
        paid[key] = promises["activity_id"].map(total).fillna(0.0).astype("float64")
    return paid["invoice_id"].where(promises["invoice_id"].notna(), paid["customer_id"])


@pytest.mark.parametrize("as_of", DATES)
def test_facts_with_settled_given_equal_facts_computed_alone(synthetic: Ledger, as_of: str) -> None:
    for ledger in _ledgers(synthetic):
        settled = settled_dates(ledger.invoices, ledger.payments)
        expected = customer_facts(ledger, as_of)
        pd.testing.assert_frame_equal(
            customer_facts(ledger, as_of, settled=settled), expected, check_exact=True
        )
        pd.testing.assert_frame_equal(
            promise_summary(ledger, as_of, settled), promise_summary(ledger, as_of)
        )


def test_paid_amounts_equal_the_merge(synthetic: Ledger) -> None:
    judged = 0
    for as_of, ledger in itertools.product(DATES, _ledgers(synthetic)):
        status = promise_status(ledger, as_of)
        expected = _paid_by_merge(ledger, status, as_of)
        pd.testing.assert_series_equal(
            status["paid_amount"], expected, check_exact=True, check_names=False
        )
        judged += int((status["paid_amount"] > 0).sum())
    assert judged > 0  # some promises had payments in their span


def test_balances_equal_the_per_currency_sums() -> None:
    """numpy's sum of each currency's overdue amounts, currencies sorted, missing last."""
    rng = np.random.default_rng(5)
    amounts = rng.uniform(0, 1000, 40).round(2) / 3  # not exact in binary: order matters
    invoices = pd.DataFrame(
        {
            "currency": pd.array(["ILS", "EUR", None, "USD"] * 10, dtype="string"),
            "open_amount": amounts,
            "overdue": rng.random(40) < 0.7,
        }
    )
    expected = invoices.groupby("currency", dropna=False).agg(
        open_amount=("open_amount", "sum"),
        overdue_amount=("open_amount", lambda v: v[invoices.loc[v.index, "overdue"]].sum()),
    )
    got = _balances(invoices)
    assert records(got.reset_index()) == records(expected.reset_index())
    assert got["overdue_amount"].to_numpy().tobytes() == (
        expected["overdue_amount"].to_numpy().tobytes()
    )


def _store_with_scores(tmp_path: Path, ledger: Ledger) -> LedgerStore:
    store = LedgerStore.from_url(f"sqlite:///{tmp_path / 'page.db'}")
    store.migrate()
    store.upsert(ledger)
    invoices = ledger.invoices.loc[settled_dates(ledger.invoices, ledger.payments).isna()]
    p_over_30 = np.random.default_rng(3).beta(1.2, 4.0, len(invoices))
    reasons = {"method": "path", "en": [{"text": "late"}], "he": [{"text": "מאחר"}]}
    scores = pd.DataFrame(
        {
            "model_name": "payment-risk",
            "model_version": "test",
            "as_of": pd.Timestamp(END),
            "invoice_id": invoices["invoice_id"].to_numpy(),
            "customer_id": invoices["customer_id"].to_numpy(),
            "open_amount": invoices["amount"].to_numpy(dtype="float64"),
            "currency": invoices["currency"].to_numpy(dtype=object),
            "bucket_probabilities": [{"on_time": 1 - p} for p in p_over_30],
            "p_late": p_over_30,
            "p_over_30": p_over_30,
            "expected_days_late": 10.0,
            "predicted_payment_date": pd.Timestamp(END),
            "reasons": [reasons] * len(invoices),
        }
    )
    write_scores(store, scores)
    return store


def test_page_row_and_collector_equal_the_general_paths(tmp_path: Path, synthetic: Ledger) -> None:
    store = _store_with_scores(tmp_path, synthetic)
    settings = Settings(
        data_dir=tmp_path, database_url=f"sqlite:///{tmp_path / 'page.db'}", fx_rates=RATES
    )
    params = WorklistParams.from_settings(settings)
    rows = 0
    for customer_id in synthetic.customers["customer_id"].astype(str):
        view = customer_view(store, settings, customer_id, END, "he")
        assert view is not None
        ledger = read_customers(store, [customer_id])
        stamp = pd.Timestamp(END)
        collector = str(assigned_collectors(ledger, stamp).iloc[0])
        assert view["customer"]["collector_now"] == collector
        if view["row"] is None:
            continue
        page_scores = _page_scores(store, customer_id)
        ranked = rank_worklist(page_scores, ledger, DEFAULT_RULES, params, stamp)
        assert view["row"] == records(ranked)[0]
        rows += 1
    assert rows > 10


def _page_scores(store: LedgerStore, customer_id: str) -> pd.DataFrame:
    """The customer's stored scores as the page ranks them (reasons in Hebrew)."""
    scores = read_latest_scores(store, [customer_id])
    narrowed = scores.assign(reasons=scores["reasons"].map(lambda v: reasons_in(v, "he")))
    return narrowed[list(SCORE_COLUMNS)]
