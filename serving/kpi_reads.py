"""The KPI tables of a date, shared by ``GET /v1/kpis`` and the KPI page, cached.

Computed point in time from the whole ledger (``serving.kpis``) once per database
revision and question (``serving.ledger_cache``): asking again about the same date costs
one tiny query; any write to the database makes the next request compute afresh.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, timedelta

import pandas as pd

from ledger.frames import Ledger
from ledger.store import LedgerStore
from payrisk.settings import Settings
from serving.kpis import kpi_snapshot, kpi_trend, worklist_effect
from serving.ledger_cache import ledger_cache
from serving.ledger_reads import read_whole_ledger
from serving.worklist import MissingRateError, WorklistParams
from serving.worklist_reads import scores_as_of

EFFECT_LOOKBACK_DAYS = 30


@dataclass(frozen=True)
class KpiTables:
    """The KPIs now, their monthly trend and the worklist effect (or why there is none)."""

    current: pd.DataFrame
    trend: pd.DataFrame
    effect: pd.DataFrame | None
    effect_notice: str | None
    ledger_empty: bool


@dataclass(frozen=True)
class KpiQuestion:
    """What is asked: the date, the grouping, months of trend, currencies kept apart or not."""

    as_of: date
    group_by: str | None
    months: int
    separate_currencies: bool


def _effect(
    store: LedgerStore, ledger: Ledger, settings: Settings, as_of: date
) -> tuple[pd.DataFrame | None, str | None]:
    """The worklist effect of the list stored a month before ``as_of`` (or why there is none)."""
    then, refresh = scores_as_of(store, as_of - timedelta(days=EFFECT_LOOKBACK_DAYS))
    if not refresh:
        return None, f"no scores stored {EFFECT_LOOKBACK_DAYS}+ days before {as_of}"
    params = WorklistParams.from_settings(settings)
    try:
        effect = worklist_effect(
            then, ledger, refresh["as_of"], params, settings.worklist_effect_top_n
        )
    except MissingRateError as error:
        return None, f"worklist effect not computed: {error}"
    return effect, None


def compute_kpis(
    store: LedgerStore, settings: Settings, question: KpiQuestion, with_effect: bool
) -> KpiTables:
    """The KPI tables, read and computed now (``kpi_tables`` caches them)."""
    ledger = read_whole_ledger(store)
    reporting = None if question.separate_currencies else settings.reporting_currency
    stamp = pd.Timestamp(question.as_of)
    rates = settings.fx_rates
    current = kpi_snapshot(ledger, stamp, question.group_by, reporting, rates)
    trend = kpi_trend(ledger, stamp, question.months, question.group_by, reporting, rates)
    effect, notice = (
        _effect(store, ledger, settings, question.as_of) if with_effect else (None, None)
    )
    return KpiTables(current, trend, effect, notice, ledger.invoices.empty)


def kpi_tables(
    store: LedgerStore, settings: Settings, question: KpiQuestion, with_effect: bool = True
) -> KpiTables:
    """``compute_kpis``, once per database revision, question and settings that matter."""
    key = (
        "kpis",
        question,
        with_effect,
        settings.reporting_currency,
        tuple(sorted(settings.fx_rates.items())),
        settings.worklist_effect_top_n,
    )
    return ledger_cache(store).get_or_compute(
        key, lambda: compute_kpis(store, settings, question, with_effect)
    )
