"""Payment terms: spellings normalize to netN / eom+N, and become credit days."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from features.terms import UnknownTermsError, normalize_terms, parse_terms, terms_days


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("net30", "net30"),
        ("Net 30", "net30"),
        ("N60", "net60"),
        ("45 days", "net45"),
        ("2/10 net 30", "net30"),
        ("due on receipt", "net0"),
        ("EOM+60", "eom+60"),
        ("eom 90", "eom+90"),
        ("net 30 EOM", "eom+30"),
        ("שוטף+60", "eom+60"),
        ("שוטף + 90", "eom+90"),
    ],
)
def test_spellings_normalize(text: str, normalized: str) -> None:
    assert parse_terms(text).normalized == normalized


def test_unknown_terms_raise_with_the_value() -> None:
    with pytest.raises(UnknownTermsError, match="'whenever'"):
        parse_terms("whenever")


def test_normalize_keeps_unknown_text_and_missing() -> None:
    terms = pd.Series(["Net 30", " Whenever ", None, "eom+30"], dtype="string")
    assert normalize_terms(terms).tolist() == ["net30", "whenever", pd.NA, "eom+30"]
    assert normalize_terms(terms).dtype == "string"


def test_terms_days_count_from_issue_to_month_end_for_eom() -> None:
    terms = pd.Series(["net30", "eom+30", "eom+60", "eom+30", None, "whenever"], dtype="string")
    issue = pd.to_datetime(
        ["2024-02-10", "2024-02-10", "2024-01-31", "2024-04-01", "2024-01-01", "2024-01-01"]
    )
    days = terms_days(terms, pd.Series(issue))
    # Feb 2024 has 29 days: 19 days to its end; Jan 31 is its month end; Apr 1 -> 29 days.
    np.testing.assert_array_equal(days, [30.0, 49.0, 60.0, 59.0, np.nan, np.nan])
