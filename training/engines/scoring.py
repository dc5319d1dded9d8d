"""Batch scoring: every invoice open at an as-of date, scored by one model version.

The same function scores a whole ledger (pandas engine) or one partition of whole
customers (dask engine, ``map_partitions``); the model is loaded once per process and
cached, so a Dask worker loads it once however many partitions it scores.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import pandas as pd

from features.build import build_features
from ledger.frames import Ledger
from ledger.settlement import settled_dates
from models.pyfunc import LoadedModel, load_payment_risk_model, model_frame, output_columns

STAMP_COLUMNS = ("model_name", "model_version", "as_of", "scored_at")
INVOICE_COLUMNS = ("invoice_id", "customer_id", "due_date", "amount", "currency")


@dataclass(frozen=True)
class ScoreStamp:
    """Which model scored, as of when, and when the scoring ran (written on every row)."""

    model_name: str
    model_version: str
    model_uri: str  # pinned to the version (models:/name/N), so every partition agrees
    tracking_uri: str | None
    as_of: pd.Timestamp
    scored_at: pd.Timestamp


@functools.lru_cache(maxsize=4)
def cached_model(model_uri: str, tracking_uri: str | None) -> LoadedModel:
    """``load_payment_risk_model``, once per process (a Dask worker loads it once)."""
    return load_payment_risk_model(model_uri, tracking_uri=tracking_uri)


def open_invoice_rows(ledger: Ledger, as_of: pd.Timestamp) -> pd.DataFrame:
    """``invoice_id, as_of`` of the invoices open at the end of day ``as_of``.

    Open: issued <= as_of and not settled by then (paid date, or covering payments, after
    as_of or never) -- the snapshots' point-in-time rule.
    """
    invoices = ledger.invoices
    settled = settled_dates(invoices, ledger.payments)
    is_open = (invoices["issue_date"] <= as_of) & (settled.isna() | (settled > as_of))
    ids = invoices.loc[is_open, "invoice_id"].reset_index(drop=True)
    return pd.DataFrame({"invoice_id": ids, "as_of": pd.Series(as_of, index=ids.index)}).astype(
        {"as_of": "datetime64[ns]"}
    )


def score_columns(loaded: LoadedModel) -> list[str]:
    """The output columns, in order."""
    outputs = [*output_columns(loaded.card.buckets), "predicted_payment_date"]
    return [*STAMP_COLUMNS, *INVOICE_COLUMNS, *outputs]


def score_ledger(ledger: Ledger, stamp: ScoreStamp) -> pd.DataFrame:
    """One row per invoice open at ``stamp.as_of``: the stamp, the invoice, the model outputs.

    Outputs: bucket probabilities ``p_<bucket>``, ``p_late``, ``p_over_<edge>``,
    ``expected_days_late`` (days) and ``predicted_payment_date``.
    """
    loaded = cached_model(stamp.model_uri, stamp.tracking_uri)
    rows = open_invoice_rows(ledger, stamp.as_of)
    invoices = ledger.invoices.set_index("invoice_id").reindex(rows["invoice_id"].to_numpy())
    invoices = invoices.reset_index()
    if rows.empty:
        outputs = pd.DataFrame(
            {name: pd.Series(dtype="float64") for name in output_columns(loaded.card.buckets)}
        ).assign(predicted_payment_date=pd.Series(dtype="datetime64[ns]"))
    else:
        features = build_features(ledger, rows)
        outputs = loaded.model.predict_frame(
            model_frame(features, loaded.card), rows["as_of"], invoices["due_date"]
        ).reset_index(drop=True)
    stamps = pd.DataFrame(
        {
            "model_name": pd.Series(stamp.model_name, index=rows.index, dtype="string"),
            "model_version": pd.Series(stamp.model_version, index=rows.index, dtype="string"),
            "as_of": rows["as_of"],
            "scored_at": pd.Series(stamp.scored_at, index=rows.index, dtype="datetime64[ns]"),
        }
    )
    frame = pd.concat([stamps, invoices[list(INVOICE_COLUMNS)], outputs], axis=1)
    return frame[score_columns(loaded)]
