"""Reference profiles and PSI: exact values on tiny inputs; the monitor's notices."""

from __future__ import annotations

import math
from datetime import date

import numpy as np
import pandas as pd
import pytest

from ledger.frames import Ledger
from ledger.synthetic import GeneratorConfig, generate_ledger
from models.drift import (
    BinnedDistribution,
    ProfileError,
    ReferenceProfile,
    build_profile,
    categorical_distribution,
    drift_table,
    numeric_distribution,
    psi,
    status_of,
    worst,
)
from models.monitoring import MonitorConfig, monitor


def test_psi_matches_the_formula() -> None:
    # reference 50/50, recent 75/25: .25 ln(1.5) + .25 ln(2)
    assert psi([0.5, 0.5], np.array([3, 1])) == pytest.approx(
        0.25 * math.log(1.5) + 0.25 * math.log(2)
    )
    assert psi([0.5, 0.5], np.array([5, 5])) == 0.0
    assert math.isnan(psi([0.5, 0.5], np.array([0, 0])))


def test_numeric_bins_are_quantiles_with_a_missing_bin() -> None:
    values = pd.Series([1.0, 2.0, 3.0, 4.0, np.nan, 5.0, 6.0, 7.0, 8.0, np.nan])

    distribution = numeric_distribution(values, n_bins=4)

    assert distribution.edges == pytest.approx((2.75, 4.5, 6.25))
    assert distribution.shares == pytest.approx((0.2, 0.2, 0.2, 0.2, 0.2))
    assert distribution.missing_share == pytest.approx(0.2)
    # values on an edge fall in the bin it closes; beyond the range in the outer bins
    counts = distribution.counts(pd.Series([2.75, 2.76, -100.0, 100.0, None]))
    assert counts.tolist() == [2, 1, 0, 1, 1]


def test_categorical_shares_with_other_and_missing() -> None:
    reference = pd.Series(["net30", "net30", "eom+60", None], dtype="string")

    distribution = categorical_distribution(reference, max_categories=1)

    assert distribution.categories == ("net30",)
    assert distribution.shares == pytest.approx((0.5, 0.25, 0.25))
    counts = distribution.counts(pd.Series(["net30", "net90", None, None], dtype="string"))
    assert counts.tolist() == [1, 1, 2]


def test_profile_round_trips_through_json_and_refuses_garbage() -> None:
    features = pd.DataFrame({"amount": [1.0, 2.0, 3.0, 4.0], "terms": ["a", "b", "a", None]})
    scores = pd.DataFrame({"p_late": [0.1, 0.2, 0.3, 0.9]})

    profile = build_profile(features, scores, ["terms"], n_bins=2)

    assert ReferenceProfile.from_json(profile.to_json()) == profile
    assert profile.features["terms"].kind == "categorical"
    with pytest.raises(ProfileError, match="not a reference profile"):
        ReferenceProfile.from_json("[1, 2]")


def test_statuses_follow_the_thresholds() -> None:
    assert [status_of(v, 0.1, 0.25) for v in (0.0, 0.1, 0.2, 0.25, math.nan)] == [
        "ok",
        "warn",
        "warn",
        "alert",
        "unknown",
    ]
    assert worst(["ok", "alert", "warn"]) == "alert"
    assert worst([]) == "unknown"


def test_drift_table_flags_a_shifted_score_not_a_stable_one() -> None:
    rng = np.random.default_rng(0)
    reference = pd.DataFrame({"p_late": rng.uniform(0, 1, 2000)})
    features = pd.DataFrame({"amount": rng.lognormal(5, 1, 2000)})
    profile = build_profile(features, reference, [])
    recent_features = pd.DataFrame({"amount": rng.lognormal(5, 1, 800)})

    stable = drift_table(
        profile,
        recent_features,
        pd.DataFrame({"p_late": rng.uniform(0, 1, 800)}),
        warn=0.1,
        alert=0.25,
    )
    shifted = drift_table(
        profile,
        recent_features,
        pd.DataFrame({"p_late": rng.uniform(0.4, 1, 800)}),
        warn=0.1,
        alert=0.25,
    )

    assert stable.set_index("column").loc["p_late", "status"] == "ok"
    assert shifted.set_index("column").loc["p_late", "status"] == "alert"
    assert shifted.set_index("column").loc["amount", "status"] == "ok"
    assert list(shifted["kind"]) == ["score", "feature"]


def _empty_ledger() -> Ledger:
    return Ledger.from_frames()


def test_monitor_says_what_is_missing_instead_of_failing() -> None:
    profile = ReferenceProfile(
        features={},
        scores={"p_late": BinnedDistribution("numeric", (1.0,))},
        feature_rows=1,
        score_rows=1,
    )
    empty = monitor(pd.DataFrame(), _empty_ledger(), profile, MonitorConfig())

    assert empty.status == "unknown"
    assert any("no scores yet" in notice for notice in empty.notices)
    assert empty.to_dict()["realized_by_month"] == []


def test_a_model_without_a_reference_profile_gets_realized_figures_and_a_notice() -> None:
    ledger = generate_ledger(
        GeneratorConfig(customers=8, years=1, seed=2, end=date(2026, 11, 30))
    ).ledger
    invoices = ledger.invoices.head(20)
    scores = pd.DataFrame(
        {
            "invoice_id": invoices["invoice_id"].astype("string"),
            "as_of": invoices["issue_date"],
            "p_late": 0.4,
            "p_over_30": 0.1,
            "open_amount": invoices["amount"],
            "model_version": "1",
            "scored_at": pd.Timestamp("2026-12-01", tz="UTC"),
        }
    )

    report = monitor(scores, ledger, None, MonitorConfig(window_days=10_000))

    assert report.status == "unknown"
    assert any("no reference profile" in notice for notice in report.notices)
    assert report.drift.empty
    assert report.realized.iloc[-1]["month"] == "all"
    assert report.realized.iloc[-1]["scored_rows"] == 20


def test_no_matured_outcomes_yet_is_a_notice() -> None:
    ledger = generate_ledger(
        GeneratorConfig(customers=8, years=1, seed=2, end=date(2026, 11, 30))
    ).ledger
    invoices = ledger.invoices
    not_due = invoices.loc[(invoices["due_date"] > "2026-11-30") & invoices["paid_date"].isna()]
    scores = pd.DataFrame(
        {
            "invoice_id": not_due["invoice_id"].astype("string"),
            "as_of": pd.Timestamp("2026-11-30"),
            "p_late": 0.4,
            "p_over_30": 0.1,
            "open_amount": not_due["amount"],
            "model_version": "1",
            "scored_at": pd.Timestamp("2026-11-30", tz="UTC"),
        }
    )

    report = monitor(scores, ledger, None, MonitorConfig())

    assert len(scores) > 0
    assert any("no matured outcomes yet" in notice for notice in report.notices)
    assert report.realized.iloc[-1]["matured_late"] == 0
    assert math.isnan(report.realized.iloc[-1]["roc_auc_late"])
