"""Scores as the ``scores`` table stores them (``ledger.scores_store``): one row per scored
open invoice, with its bucket probabilities and reasons as JSON.

Reasons are kept in every language scored, with the method that made them
(``{"method": "path", "en": [...], "he": [...]}``), so the worklist can show them in the
reader's language without scoring again. Values go through ``plain_value``: JSON (and
PostgreSQL's ``json``) holds no NaN or infinity.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from models.explain import Reason
from serving.scored import Scored


def plain_value(value: object) -> float | str | None:
    """A reason's value as JSON can hold it: finite float, text, or None."""
    if isinstance(value, bool | np.bool_):
        return float(value)
    if isinstance(value, int | float | np.integer | np.floating):
        number = float(value)
        return number if np.isfinite(number) else None
    return None if value is None or value is pd.NA else str(value)


def _reason_dicts(reasons: list[Reason]) -> list[dict[str, object]]:
    return [
        {
            "feature": reason.feature,
            "value": plain_value(reason.value),
            "contribution": float(reason.contribution),
            "direction": reason.direction,
            "text": reason.text,
        }
        for reason in reasons
    ]


def stored_rows(scored: Scored, model_name: str, model_version: str) -> pd.DataFrame:
    """The scored invoices as rows of the ``scores`` table (``ledger.scores_store``).

    Without ``score_id``/``scored_at`` (the writer sets them); reasons in every language
    scored, with the method that made them.
    """
    invoices = scored.invoices
    labels = scored.bucket_labels
    proba = invoices[[f"p_{label}" for label in labels]].to_numpy(dtype="float64").tolist()
    langs = list(scored.reasons)
    reasons = [
        {"method": scored.reasons_method}
        | {lang: _reason_dicts(scored.reasons[lang][row]) for lang in langs}
        for row in range(len(invoices))
    ]
    return pd.DataFrame(
        {
            "model_name": model_name,
            "model_version": model_version,
            "as_of": scored.as_of,
            "invoice_id": invoices["invoice_id"].to_numpy(dtype=object),
            "customer_id": invoices["customer_id"].to_numpy(dtype=object),
            "open_amount": invoices["open_amount"].to_numpy(dtype="float64"),
            "currency": invoices["currency"].to_numpy(dtype=object, na_value=None),
            "bucket_probabilities": [dict(zip(labels, row, strict=True)) for row in proba],
            "p_late": invoices["p_late"].to_numpy(dtype="float64"),
            "p_over_30": invoices["p_over_30"].to_numpy(dtype="float64"),
            "expected_days_late": invoices["expected_days_late"].to_numpy(dtype="float64"),
            "predicted_payment_date": invoices["predicted_payment_date"].to_numpy(),
            "reasons": reasons,
        },
        index=pd.RangeIndex(len(invoices)),
    )
