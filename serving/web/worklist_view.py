"""What the worklist page shows: the ranked rows after filters, sort and paging.

Filters with unknown values are dropped with a notice (the API answers 422 instead).
The snoozed customers (an active promise to pay) are listed apart, after the others.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import pandas as pd

from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.worklist_filters import FILTER_FIELDS, filter_worklist, known_filter_values
from serving.worklist_reads import build_worklist, csv_text, records

SORTABLE = (
    "rank",
    "name",
    "collector",
    "tier",
    "amount_at_risk",
    "open_amount",
    "days_overdue",
    "days_since_contact",
    "next_action",
)
_TIER_ORDER = {"high": 0, "medium": 1, "low": 2}
MAX_PAGE_SIZE = 500


@dataclass(frozen=True)
class WorklistQuery:
    """The page's query parameters, checked: filters, sort column and order, page."""

    filters: dict[str, str] = field(default_factory=dict)
    sort: str = "rank"
    descending: bool = False
    page: int = 1
    page_size: int = 50

    @classmethod
    def from_params(cls, params: Mapping[str, str]) -> WorklistQuery:
        """From raw query parameters; bad sort or paging values fall back to the defaults."""
        filters = {name: params[name] for name in FILTER_FIELDS if params.get(name)}
        sort = params.get("sort", "rank")
        page_size = _positive(params.get("page_size"), 50)
        return cls(
            filters=filters,
            sort=sort if sort in SORTABLE else "rank",
            descending=params.get("order") == "desc",
            page=_positive(params.get("page"), 1),
            page_size=min(page_size, MAX_PAGE_SIZE),
        )


def unusable_params(params: Mapping[str, str]) -> list[tuple[str, str]]:
    """(name, value) of the sort, order and paging values the page ignores for its defaults."""
    valid = {
        "sort": lambda value: value in SORTABLE,
        "order": lambda value: value in ("asc", "desc"),
        "page": lambda value: _positive(value, 0) > 0,
        "page_size": lambda value: _positive(value, 0) > 0,
    }
    return [
        (name, params[name])
        for name, ok in valid.items()
        if name in params and not ok(params[name])
    ]


def _positive(raw: str | None, default: int) -> int:
    try:
        value = int(raw) if raw is not None else default
    except ValueError:
        return default
    return value if value >= 1 else default


def split_filters(
    filters: Mapping[str, str], known: Mapping[str, list[str]]
) -> tuple[dict[str, str], list[tuple[str, str]]]:
    """(filters whose value exists, (field, value) pairs that match nothing and are ignored)."""
    kept, ignored = {}, []
    for name, value in filters.items():
        allowed = {item.lower() for item in known.get(name, [])}
        if value.lower() in allowed:
            kept[name] = value
        else:
            ignored.append((name, value))
    return kept, ignored


def sort_rows(rows: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Rows sorted by ``column`` (tiers high to low; missing values last), rank breaks ties."""
    if column == "rank":
        return rows.sort_values("rank", ascending=not descending, kind="stable")
    key = rows[column].map(_TIER_ORDER) if column == "tier" else rows[column]
    keyed = rows.assign(_key=key)
    ordered = keyed.sort_values(
        ["_key", "rank"], ascending=[not descending, True], kind="stable", na_position="last"
    )
    return ordered.drop(columns="_key")


def worklist_view(
    store: LedgerStore, settings: Settings, query: WorklistQuery, as_of: date, language: str
) -> dict[str, Any]:
    """Everything the worklist template needs (rows as plain dicts)."""
    worklist, customers, facts = build_worklist(store, settings, as_of, language)
    known = known_filter_values(customers, worklist)
    kept, ignored = split_filters(query.filters, known)
    chosen = filter_worklist(worklist, kept, known) if kept else worklist
    snoozed = chosen.loc[chosen["section"] == "snoozed"] if len(chosen) else chosen
    active = chosen.loc[chosen["section"] != "snoozed"] if len(chosen) else chosen
    if len(active):
        active = sort_rows(active, query.sort, query.descending)
    pages = max(1, -(-len(active) // query.page_size))
    page = min(query.page, pages)
    start = (page - 1) * query.page_size
    return {
        "rows": records(active.iloc[start : start + query.page_size]),
        "snoozed": records(snoozed.sort_values("snoozed_until")) if len(snoozed) else [],
        "total": len(active),
        "page": page,
        "pages": pages,
        "known": known,
        "filters": kept,
        "ignored": ignored,
        "scored": bool(facts),
        "facts": facts,
        "ledger_empty": customers.empty,
    }


def worklist_csv_text(
    store: LedgerStore, settings: Settings, query: WorklistQuery, as_of: date
) -> str:
    """The page's CSV export: every row its filters keep (unknown filter values ignored)."""
    worklist, customers, _facts = build_worklist(store, settings, as_of)
    known = known_filter_values(customers, worklist)
    kept, _ignored = split_filters(query.filters, known)
    return csv_text(filter_worklist(worklist, kept, known) if kept else worklist)
