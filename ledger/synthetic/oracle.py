"""The oracle: each invoice's true probability of being paid late, in closed form.

At issue the generator fixes, from the state at issue (latent discipline, stress
severity, amount, terms, due date, paper), two branches of one law -- undisputed and
disputed -- and draws the branch with probability ``p_dispute``. In a branch an invoice
is late with probability ``p_late``; given late, its days late are
``max(1, ceil(X))`` with ``X`` log-logistic (``scale``, ``DELAY_SHAPE``), so
``P(days late > d) = p_late / (1 + (d / scale) ** shape)`` exactly. Nothing drawn after
issue changes the invoice's outcome, so the issue-time oracle is exact, not approximate.

``oracle_as_of`` conditions the same law on what is known at a later date t: the invoice
is still open at t, and whether a dispute was opened by t. It ignores what promises to
pay and partial payments of the invoice reveal (a collector who hears "we pay Friday"
knows more than this oracle), so on snapshot rows a model can occasionally beat it there.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ledger.synthetic import params as p

OVER_DAYS = 30
LAW_COLUMNS = (
    "p_dispute",
    "p_late_undisputed",
    "p_late_disputed",
    "delay_scale_undisputed_days",
    "delay_scale_disputed_days",
)


@dataclass(frozen=True)
class LatenessLaw:
    """Per invoice, both branches of its lateness law as fixed at issue."""

    p_dispute: np.ndarray
    p_late_undisputed: np.ndarray
    p_late_disputed: np.ndarray
    delay_scale_undisputed_days: np.ndarray
    delay_scale_disputed_days: np.ndarray


def sigmoid(logit: np.ndarray) -> np.ndarray:
    """The logistic function."""
    return 1.0 / (1.0 + np.exp(-logit))


def delay_survival(days_late: np.ndarray | float, scale_days: np.ndarray) -> np.ndarray:
    """P(days late > ``days_late`` | late): log-logistic survival; 1 for days_late <= 0."""
    ratio = np.clip(np.asarray(days_late, dtype=float), 0.0, None) / scale_days
    return 1.0 / (1.0 + ratio**p.DELAY_SHAPE)


def issue_time_probabilities(law: LatenessLaw) -> tuple[np.ndarray, np.ndarray]:
    """(P(days late > 0), P(days late > 30)) at issue, mixing the two dispute branches."""
    disputed = law.p_dispute
    p_late = (1 - disputed) * law.p_late_undisputed + disputed * law.p_late_disputed
    p_over = (1 - disputed) * law.p_late_undisputed * delay_survival(
        OVER_DAYS, law.delay_scale_undisputed_days
    ) + disputed * law.p_late_disputed * delay_survival(OVER_DAYS, law.delay_scale_disputed_days)
    return p_late, p_over


def oracle_as_of(oracle: pd.DataFrame, invoices: pd.DataFrame, rows: pd.DataFrame) -> pd.DataFrame:
    """True P(late) and P(> 30 days late) of (``invoice_id``, ``as_of``) rows, given facts at t.

    ``oracle`` as written by the generator, ``invoices`` the ledger's invoices (for issue,
    due and paid dates). An invoice settled by t gets its realized outcome (0 or 1); an
    open one the law conditioned on "still open at t" and on its dispute state at t.
    Returns a frame indexed like ``rows`` with ``p_late_true`` and ``p_over_30_true``.
    """
    law_columns = ["invoice_id", *LAW_COLUMNS, "dispute_opened_date"]
    joined = (
        rows[["invoice_id", "as_of"]]
        .merge(oracle[law_columns], on="invoice_id", how="left", validate="many_to_one")
        .merge(
            invoices[["invoice_id", "issue_date", "due_date", "paid_date"]],
            on="invoice_id",
            how="left",
            validate="many_to_one",
        )
    )
    as_of = pd.to_datetime(joined["as_of"])
    since_issue = (as_of - joined["issue_date"]).dt.days.to_numpy(dtype=float)
    term = (joined["due_date"] - joined["issue_date"]).dt.days.to_numpy(dtype=float)
    overdue = (as_of - joined["due_date"]).dt.days.to_numpy(dtype=float)
    disputed_by_t = (joined["dispute_opened_date"] <= as_of).to_numpy(dtype=bool)
    late, over = _conditioned(joined, since_issue, term, overdue, disputed_by_t)
    settled = (joined["paid_date"] <= as_of).to_numpy(dtype=bool)
    days_late = (joined["paid_date"] - joined["due_date"]).dt.days.to_numpy(dtype=float)
    return pd.DataFrame(
        {
            "p_late_true": np.where(settled, days_late > 0, late).astype(float),
            "p_over_30_true": np.where(settled, days_late > OVER_DAYS, over).astype(float),
        },
        index=rows.index,
    )


def _conditioned(
    joined: pd.DataFrame,
    since_issue: np.ndarray,
    term: np.ndarray,
    overdue: np.ndarray,
    disputed_by_t: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Bayes over the two branches given "open at t" and the dispute state at t."""
    first, last = p.DISPUTE_OPEN_DAYS
    window = last - first + 1
    not_yet_opened = np.clip(last - np.maximum(first - 1, since_issue), 0, window) / window
    p_dispute = joined["p_dispute"].to_numpy(dtype=float)
    weight_disputed = p_dispute * np.where(disputed_by_t, 1.0, not_yet_opened)
    weight_undisputed = (1.0 - p_dispute) * np.where(disputed_by_t, 0.0, 1.0)
    on_time_open = np.where(
        overdue < 0, 1.0 - np.clip(since_issue / np.maximum(term, 1), 0, 1) ** p.ON_TIME_POWER, 0.0
    )
    numerator_late = np.zeros(len(joined))
    numerator_over = np.zeros(len(joined))
    denominator = np.zeros(len(joined))
    for weight, branch in ((weight_undisputed, "undisputed"), (weight_disputed, "disputed")):
        p_late = joined[f"p_late_{branch}"].to_numpy(dtype=float)
        scale = joined[f"delay_scale_{branch}_days"].to_numpy(dtype=float)
        late_open = p_late * delay_survival(overdue, scale)
        numerator_late += weight * late_open
        numerator_over += weight * p_late * delay_survival(np.maximum(overdue, OVER_DAYS), scale)
        denominator += weight * (late_open + (1 - p_late) * on_time_open)
    with np.errstate(invalid="ignore", divide="ignore"):
        return numerator_late / denominator, numerator_over / denominator
