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
from pandas.api.extensions import ExtensionArray

from features.columns import STRING, string_array
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


@dataclass(frozen=True)
class _Spellings:
    """A terms column as codes into its distinct spellings (-1 when missing)."""

    codes: np.ndarray
    texts: list[str]

    @classmethod
    def of(cls, terms: pd.Series | ExtensionArray) -> _Spellings:
        codes, uniques = pd.factorize(string_array(terms))
        return cls(codes, [str(text) for text in uniques])

    def normalized(self) -> ExtensionArray:
        normalized = []
        for text in self.texts:  # one parse per distinct spelling, not per invoice
            parsed = _parse_or_none(text)
            normalized.append(parsed.normalized if parsed else text.strip().lower())
        return pd.array(normalized, dtype=STRING).take(self.codes, allow_fill=True)

    def days(self, issue_dates: pd.Series | np.ndarray) -> np.ndarray:
        parsed = [_parse_or_none(text) for text in self.texts]
        # One extra entry at the end: what a missing value (code -1) gets.
        nominal = np.array([spec.days if spec else np.nan for spec in parsed] + [np.nan])
        is_eom = np.array([bool(spec and spec.basis == "eom") for spec in parsed] + [False])
        issue = np.asarray(issue_dates, dtype="datetime64[ns]").astype("datetime64[D]")
        month_end = (issue.astype("datetime64[M]") + 1).astype("datetime64[D]") - 1
        to_month_end = (month_end - issue).astype(np.int64).astype(np.float64)
        return nominal[self.codes] + np.where(is_eom[self.codes], to_month_end, 0.0)


def normalize_terms(terms: pd.Series) -> pd.Series:
    """Normalized terms (``net30``, ``eom+60``) as pandas string; unrecognized terms keep
    their lower-cased, trimmed text (still a usable category); missing stays missing."""
    return pd.Series(_Spellings.of(terms).normalized(), index=terms.index, copy=False)


def terms_days(
    terms: pd.Series | ExtensionArray, issue_dates: pd.Series | np.ndarray
) -> np.ndarray:
    """Credit days the terms grant from each issue date, float64; NaN if missing/unknown.

    ``netN`` -> N; ``eom+N`` -> days from the issue date to its month's last day, plus N.
    """
    return _Spellings.of(terms).days(issue_dates)


def terms_columns(
    terms: pd.Series | ExtensionArray, issue_dates: pd.Series | np.ndarray
) -> tuple[ExtensionArray, np.ndarray]:
    """``normalize_terms`` (as a pandas string array) and ``terms_days``, from one pass
    over the spellings."""
    spellings = _Spellings.of(terms)
    return spellings.normalized(), spellings.days(issue_dates)
