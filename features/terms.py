"""Payment terms: normalize the ways ERPs spell them, and turn them into credit days.

Two families cover nearly every export: ``netN`` (due N days after issue) and ``eom+N``
(due N days after the end of the issue month -- the Israeli "שוטף+N"). Spellings seen in
the wild (``Net 30``, ``N30``, ``30 days``, ``2/10 net 30``, ``EOM 60``, ``net 60 eom``,
``שוטף + 90``, ``due on receipt``) map onto those two.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

import numpy as np
import pandas as pd

from ledger.errors import PayriskError

TermsBasis = Literal["net", "eom"]

_IMMEDIATE = {"dueonreceipt", "onreceipt", "receipt", "cod", "cia", "immediate", "cash"}
_PATTERNS: tuple[tuple[re.Pattern[str], TermsBasis], ...] = (
    (re.compile(r"^(?:net|n)(\d{1,3})(?:days?)?$"), "net"),
    (re.compile(r"^(\d{1,3})(?:days?|d)?$"), "net"),
    (re.compile(r"^\d+(?:\.\d+)?%?/\d+(?:net|n)(\d{1,3})$"), "net"),
    (re.compile(r"^(?:eom|שוטף|endofmonth)\+?(\d{1,3})(?:days?)?$"), "eom"),
    (re.compile(r"^(?:net|n)?(\d{1,3})(?:days?)?eom$"), "eom"),
)


class UnknownTermsError(PayriskError):
    """Payment terms that match neither netN nor eom+N."""


@dataclass(frozen=True)
class Terms:
    """Parsed terms: due ``days`` after the issue date (net) or after its month end (eom)."""

    basis: TermsBasis
    days: int

    @property
    def normalized(self) -> str:
        return f"net{self.days}" if self.basis == "net" else f"eom+{self.days}"


def parse_terms(text: str) -> Terms:
    """Parse one terms string; raises ``UnknownTermsError`` naming it if unrecognized."""
    compact = re.sub(r"[\s_\-]+", "", str(text).strip().lower())
    if compact in _IMMEDIATE:
        return Terms("net", 0)
    if compact in {"eom", "שוטף"}:
        return Terms("eom", 0)
    for pattern, basis in _PATTERNS:
        match = pattern.match(compact)
        if match:
            return Terms(basis, int(match.group(1)))
    raise UnknownTermsError(
        f"payment terms {text!r} are neither netN (e.g. net30) nor eom+N (e.g. eom+60, שוטף+60)"
    )


def _parse_or_none(text: str) -> Terms | None:
    try:
        return parse_terms(text)
    except UnknownTermsError:
        return None


def normalize_terms(terms: pd.Series) -> pd.Series:
    """Normalized terms (``net30``, ``eom+60``) as pandas string; unrecognized terms keep
    their lower-cased, trimmed text (still a usable category); missing stays missing."""
    texts = terms.astype("string")
    unique_texts = texts.dropna().unique()
    mapping = {}
    for text in unique_texts:  # one parse per distinct spelling, not per invoice
        parsed = _parse_or_none(text)
        mapping[text] = parsed.normalized if parsed else str(text).strip().lower()
    return texts.map(mapping).astype("string")


def terms_days(terms: pd.Series, issue_dates: pd.Series) -> np.ndarray:
    """Credit days the terms grant from each issue date, float64; NaN if missing/unknown.

    ``netN`` -> N; ``eom+N`` -> days from the issue date to its month's last day, plus N.
    """
    texts = terms.astype("string")
    parsed = {text: _parse_or_none(text) for text in texts.dropna().unique()}
    nominal = texts.map({t: p.days for t, p in parsed.items() if p}).astype("float64")
    eom_texts = [
        text
        for text, terms_parsed in parsed.items()
        if terms_parsed and terms_parsed.basis == "eom"
    ]
    is_eom = texts.isin(eom_texts).fillna(False).to_numpy(bool)
    issue = np.asarray(issue_dates, dtype="datetime64[ns]").astype("datetime64[D]")
    month_end = (issue.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
    to_month_end = (month_end - issue).astype(np.int64).astype(np.float64)
    return nominal.to_numpy(np.float64, na_value=np.nan) + np.where(is_eom, to_month_end, 0.0)
