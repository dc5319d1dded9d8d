"""``Scored``: what one scoring call (``serving.scoring.score_ledger``) returns, and the
row views the answers read from it."""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, Literal

import pandas as pd

from models.explain import Reason

ReasonMethod = Literal["shap", "path"]


@dataclass(frozen=True)
class Scored:
    """The result of one scoring call.

    ``invoices``: one row per open invoice, riskiest first (invoice_id, customer_id,
    currency, open_amount, due_date, the model's ``p_<bucket>``, p_late, p_over_30,
    expected_days_late, predicted_payment_date). ``reasons[lang][i]``: the reasons of
    ``invoices`` row i. ``customers``: ``ROLLUP_COLUMNS``, one row per customer asked
    for (zeros and tier ``low`` for a customer with nothing open), with ``reasons_row``,
    the position of its riskiest invoice in ``invoices`` (-1 when none).
    """

    as_of: pd.Timestamp
    invoices: pd.DataFrame
    customers: pd.DataFrame
    reasons: dict[str, list[list[Reason]]]
    bucket_labels: tuple[str, ...]
    reasons_method: ReasonMethod
    timings_seconds: dict[str, float] = field(default_factory=dict)

    def customer_reasons(self, position: int, lang: str) -> list[Reason]:
        """The reasons of row ``position`` of ``customers``."""
        row = int(self.customer_records[position]["reasons_row"])
        return [] if row < 0 else self.reasons[lang][row]

    # Answers read rows one at a time: plain dicts, made once, cost a fraction of a
    # pandas row lookup each (``iloc`` builds a Series per row).
    @cached_property
    def invoice_records(self) -> list[dict[str, Any]]:
        """``invoices`` as one dict per row, in order."""
        return _row_dicts(self.invoices)

    @cached_property
    def customer_records(self) -> list[dict[str, Any]]:
        """``customers`` as one dict per row, in order."""
        return _row_dicts(self.customers)

    @cached_property
    def invoice_rows_by_customer(self) -> dict[str, list[int]]:
        """Per customer id, the positions of its rows in ``invoices`` (riskiest first)."""
        positions: dict[str, list[int]] = {}
        for row, customer_id in enumerate(self.invoices["customer_id"].tolist()):
            positions.setdefault(str(customer_id), []).append(row)
        return positions


def _row_dicts(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """``frame.to_dict("records")`` (the same values: ``tolist`` boxes them alike) at under
    half its cost on the few dozen rows of an answer."""
    columns = list(frame.columns)
    rows = zip(*(frame[column].tolist() for column in columns), strict=True)
    return [dict(zip(columns, row, strict=True)) for row in rows]
