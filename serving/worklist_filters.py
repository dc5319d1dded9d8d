"""Filters of the worklist: by collector, tier, segment, currency or country.

A filter matches case-insensitively. A value that matches nothing that exists (no such
collector in the ledger, no such tier) raises ``UnknownFilterValue``; one that exists
but has nobody on the list just gives no rows.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import pandas as pd

from ledger.errors import PayriskError
from ledger.frames import Ledger

TIERS = ("high", "medium", "low")
FILTER_FIELDS = ("collector", "tier", "segment", "currency", "country")


class UnknownFilterValue(PayriskError):
    """A worklist filter value that matches nothing that exists."""

    def __init__(self, field_name: str, value: str, allowed: Sequence[str]) -> None:
        self.field_name, self.value, self.allowed = field_name, value, list(allowed)
        super().__init__(
            f"unknown {field_name} {value!r}; allowed: {', '.join(self.allowed) or '(none)'}"
        )

    def __reduce__(self) -> tuple[type, tuple[str, str, list[str]]]:
        # rebuilt from its own arguments when it crosses processes (serving.bulk_runner)
        return type(self), (self.field_name, self.value, self.allowed)


def filter_worklist(
    worklist: pd.DataFrame, filters: Mapping[str, str | None], known: Mapping[str, Sequence[str]]
) -> pd.DataFrame:
    """Rows matching every given filter (case-insensitive); unknown values raise.

    ``known`` lists the values that exist per filter field (e.g. every collector of the
    ledger), so a collector with nobody on today's list is no error.
    """
    kept = pd.Series(True, index=worklist.index)
    for name, value in filters.items():
        if value is None or value == "":
            continue
        if name not in FILTER_FIELDS:
            raise UnknownFilterValue("filter", name, FILTER_FIELDS)
        allowed = sorted({str(item) for item in known.get(name, ())})
        if value.lower() not in {item.lower() for item in allowed}:
            raise UnknownFilterValue(name, value, allowed)
        kept &= (worklist[name].astype("string").str.lower() == value.lower()).fillna(False)
    return worklist.loc[kept].reset_index(drop=True)


def known_filter_values(
    customers: Ledger | pd.DataFrame, worklist: pd.DataFrame
) -> dict[str, list[str]]:
    """Per filter field, the values that exist among the customers (and on the worklist).

    ``customers``: a ledger, or ``customer_facts`` (whose default collectors count too).
    """
    frame = customers.customers if isinstance(customers, Ledger) else customers
    known: dict[str, set[str]] = {"tier": set(TIERS)}
    for name in ("segment", "currency", "country", "collector"):
        values = set(frame[name].dropna().astype(str))
        if name == "collector" and "default_collector" in frame.columns:
            values |= set(frame["default_collector"].dropna().astype(str))
        if name in worklist.columns:
            values |= set(worklist[name].dropna().astype(str))
        known[name] = values
    return {name: sorted(values) for name, values in known.items()}
