"""Realized performance of served scores, checked against a hand computation.

Outcome cutoff 2026-03-31, grace 0. As of 2026-01-31 (month 2026-01):

    row  due         settled     open  p_late p_over  late over  days overdue at t
    A    2026-01-15  2026-01-20   100   0.9   0.3      1    0      16
    B    2026-02-10  2026-02-05   200   0.5   0.1      0    0       0
    C    2026-01-01  open         300   0.7   0.6      1    1      30   (90+ days at cutoff)
    D    2026-03-20  open         400   0.4   0.2      1    ?       0   (12 days at cutoff)
    E    2026-04-30  open         500   0.5   0.5      ?    ?       0   (not due yet)
    F    2025-12-01  2026-02-15   200   0.6   0.5      1    1      61
    G    2026-02-01  2026-04-10    10   0.3   0.05     1    1       0   (paid after the cutoff)

late: AUC = 3 of 5 pairs (B's 0.5 beats D's 0.4 and G's 0.3) = 0.6;
      Brier = (.01 + .25 + .09 + .36 + .16 + .49) / 6 = 1.36 / 6.
over: AUC = 4 of 6 pairs = 2/3; Brier = (.09 + .01 + .16 + .25 + .9025) / 5 = 0.2825.
capture at 10% of the 5 rows with a known > 30 outcome = the top 1 row; amount > 30 late:
C 300 + F 200 + G 10 = 510. Model order (open x P(> 30)): C 180 first -> 300 / 510.
Aging order (days overdue x open): F 12200 first -> 200 / 510.
As of 2026-02-28 (month 2026-02): H due 2026-02-01 paid 2026-03-01 (28 days late).
"""

from __future__ import annotations

import math

import pandas as pd
import pytest

from models.realized import realized_by_month, realized_targets

CUTOFF = pd.Timestamp("2026-03-31")
ROWS = [
    # invoice, as_of, due, settled, open_amount, p_late, p_over_30
    ("A", "2026-01-31", "2026-01-15", "2026-01-20", 100, 0.9, 0.3),
    ("B", "2026-01-31", "2026-02-10", "2026-02-05", 200, 0.5, 0.1),
    ("C", "2026-01-31", "2026-01-01", None, 300, 0.7, 0.6),
    ("D", "2026-01-31", "2026-03-20", None, 400, 0.4, 0.2),
    ("E", "2026-01-31", "2026-04-30", None, 500, 0.5, 0.5),
    ("F", "2026-01-31", "2025-12-01", "2026-02-15", 200, 0.6, 0.5),
    ("G", "2026-01-31", "2026-02-01", "2026-04-10", 10, 0.3, 0.05),
    ("H", "2026-02-28", "2026-02-01", "2026-03-01", 70, 0.8, 0.4),
]


@pytest.fixture
def rows() -> pd.DataFrame:
    frame = pd.DataFrame(
        ROWS,
        columns=["invoice_id", "as_of", "due", "settled", "open_amount", "p_late", "p_over_30"],
    )
    for column in ("as_of", "due", "settled"):
        frame[column] = pd.to_datetime(frame[column])
    targets = realized_targets(frame["due"], frame["settled"], CUTOFF, grace_days=0)
    overdue = (frame["as_of"] - frame["due"]).dt.days.clip(lower=0).astype("float64")
    return pd.concat([frame, targets], axis=1).assign(days_overdue=overdue)


def test_targets_mature_with_the_cutoff(rows: pd.DataFrame) -> None:
    late = rows.set_index("invoice_id")["late"]
    over = rows.set_index("invoice_id")["over_30"]

    assert late.to_dict() == pytest.approx(
        {"A": 1, "B": 0, "C": 1, "D": 1, "E": math.nan, "F": 1, "G": 1, "H": 1}, nan_ok=True
    )
    assert over.to_dict() == pytest.approx(
        {"A": 0, "B": 0, "C": 1, "D": math.nan, "E": math.nan, "F": 1, "G": 1, "H": 0},
        nan_ok=True,
    )


def test_realized_by_month_matches_the_hand_computation(rows: pd.DataFrame) -> None:
    table = realized_by_month(rows).set_index("month")

    january = table.loc["2026-01"]
    assert january["scored_rows"] == 7
    assert january["matured_late"] == 6 and january["matured_over_30"] == 5
    assert january["share_late"] == pytest.approx(5 / 6)
    assert january["mean_p_late"] == pytest.approx(3.4 / 6)
    assert january["roc_auc_late"] == pytest.approx(0.6)
    assert january["brier_late"] == pytest.approx(1.36 / 6)
    assert january["roc_auc_over_30"] == pytest.approx(2 / 3)
    assert january["brier_over_30"] == pytest.approx(0.2825)
    assert january["capture_at_10_model"] == pytest.approx(300 / 510)
    assert january["capture_at_10_aging"] == pytest.approx(200 / 510)
    february = table.loc["2026-02"]
    assert math.isnan(february["roc_auc_late"])  # one class: undefined, not an error
    assert february["brier_late"] == pytest.approx(0.04)
    assert list(table.index) == ["2026-01", "2026-02", "all"]
    assert table.loc["all", "scored_rows"] == 8
    assert table.loc["all", "matured_late"] == 7
