"""Fixtures for the model tests: a small generated training set with a known signal."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from models.buckets import LateBuckets
from models.estimator import PaymentRiskModel

CURRENCIES = ("USD", "EUR", "ILS")
TERMS = ("net30", "net60", "eom+30")


def synthetic_rows(n_rows: int, seed: int) -> tuple[pd.DataFrame, np.ndarray]:
    """Feature rows and their days late: lateness grows with the customer's late ratio.

    A quarter of the rows are new customers (NaN history), ILS invoices pay a bit later,
    and the terms are noise.
    """
    rng = np.random.default_rng(seed)
    paid_count = rng.integers(0, 20, n_rows).astype("float64")
    paid_count[rng.random(n_rows) < 0.25] = 0.0
    late_ratio = np.where(paid_count > 0, rng.beta(1.2, 2.0, n_rows), np.nan)
    days_overdue = np.where(rng.random(n_rows) < 0.5, 0.0, rng.integers(1, 60, n_rows))
    amount = np.round(rng.lognormal(8, 1, n_rows), 2)
    currency = rng.choice(CURRENCIES, n_rows)
    risk = np.nan_to_num(late_ratio, nan=0.4) * 70 + days_overdue * 0.6 + (currency == "ILS") * 10
    days_late = np.round(risk - 25 + rng.normal(0, 15, n_rows))
    features = pd.DataFrame(
        {
            "amount": amount,
            "open_amount": amount,
            "days_overdue": days_overdue,
            "paid_invoices_count": paid_count,
            "late_invoices_count": np.round(paid_count * np.nan_to_num(late_ratio)),
            "late_ratio_by_count": late_ratio,
            "currency": pd.array(currency, dtype="string"),
            "terms": pd.array(rng.choice(TERMS, n_rows), dtype="string"),
        }
    )
    features.loc[rng.random(n_rows) < 0.05, "terms"] = pd.NA
    return features, days_late


@pytest.fixture(scope="session")
def buckets() -> LateBuckets:
    return LateBuckets()


@pytest.fixture(scope="session")
def training_data(buckets: LateBuckets) -> dict[str, object]:
    """Train / validation / test rows (features, buckets, days late) from one process."""
    splits = {}
    for name, (n_rows, seed) in {"train": (3000, 1), "val": (1500, 2), "test": (1500, 3)}.items():
        features, days_late = synthetic_rows(n_rows, seed)
        splits[name] = (features, buckets.bucket_of(days_late), days_late)
    return splits


@pytest.fixture(scope="session")
def fitted_model(training_data: dict, buckets: LateBuckets) -> PaymentRiskModel:
    """A small PaymentRiskModel fitted once for the session (treat as read-only)."""
    X, y, days_late = training_data["train"]
    X_val, y_val, _ = training_data["val"]
    model = PaymentRiskModel(
        buckets=buckets,
        n_estimators=200,
        learning_rate=0.1,
        num_leaves=15,
        min_child_samples=20,
        early_stopping_rounds=20,
        n_jobs=1,
    )
    return model.fit(X, y, X_val=X_val, y_val=y_val, days_late=days_late)
