"""Customers: who they are (segment, country, currency, terms...) and their hidden traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from ledger.synthetic import names
from ledger.synthetic import params as p
from ledger.synthetic.config import DAYS_PER_YEAR, to_timestamps


@dataclass(frozen=True)
class CustomerDraw:
    """One chunk's customers: arrays aligned by position, plus the contract frame."""

    frame: pd.DataFrame
    segment: np.ndarray  # index into params.SEGMENTS
    country: np.ndarray  # index into params.COUNTRIES
    currency: np.ndarray  # ISO 4217 codes
    invoices_per_year: np.ndarray
    typical_amount: np.ndarray  # in the customer's currency
    created_day: np.ndarray
    churn_day: np.ndarray
    usual_terms: np.ndarray  # index into params.TERMS
    paperless: np.ndarray  # bool
    discipline_baseline: np.ndarray  # logit offset, higher = later

    def __len__(self) -> int:
        return len(self.segment)


def customer_ids(numbers: np.ndarray, width: int) -> list[str]:
    """Readable ids: C00042 (at least five digits)."""
    return [f"C{number:0{width}d}" for number in numbers]


def draw_customers(
    rng: np.random.Generator,
    first_number: int,
    count: int,
    span_days: tuple[int, int],
    id_width: int,
) -> CustomerDraw:
    """Draw ``count`` customers numbered from ``first_number``; span = (start, end) days."""
    start_day, end_day = span_days
    segment = rng.choice(len(p.SEGMENTS), size=count, p=p.SEGMENT_SHARES)
    country = rng.choice(len(p.COUNTRIES), size=count, p=p.COUNTRY_SHARES)
    industry = rng.integers(0, len(p.INDUSTRIES), count)
    currency = np.asarray(p.COUNTRY_CURRENCY, dtype=object)[country]
    israeli = country == p.COUNTRIES.index("IL")
    currency[israeli & (rng.random(count) < p.ISRAELI_USD_SHARE)] = "USD"
    invoices_per_year, typical_amount = _volumes(rng, segment, currency)
    created_day = _created_days(rng, count, start_day, end_day)
    # churn clock starts when the ledger does (or at onboarding, if later)
    churn_day = np.maximum(created_day, start_day) + np.ceil(
        rng.exponential(p.CHURN_MEAN_YEARS * DAYS_PER_YEAR, count)
    ).astype(np.int64)
    usual_terms = _usual_terms(rng, israeli)
    paperless = rng.random(count) < p.PAPERLESS_CUSTOMER_SHARE
    baseline = _discipline_baselines(rng, segment, country, industry)
    columns = {
        "customer_id": customer_ids(np.arange(first_number, first_number + count), id_width),
        "credit_limit": _credit_limits(rng, typical_amount, invoices_per_year),
        "created_date": to_timestamps(created_day),
    }
    frame = _frame(rng, columns, segment, country, industry, currency)
    return CustomerDraw(
        frame=frame,
        segment=segment,
        country=country,
        currency=currency,
        invoices_per_year=invoices_per_year,
        typical_amount=typical_amount,
        created_day=created_day,
        churn_day=churn_day,
        usual_terms=usual_terms,
        paperless=paperless,
        discipline_baseline=baseline,
    )


def _frame(
    rng: np.random.Generator,
    columns: dict[str, object],
    segment: np.ndarray,
    country: np.ndarray,
    industry: np.ndarray,
    currency: np.ndarray,
) -> pd.DataFrame:
    """The contract's customers frame (names and collectors drawn here)."""
    israeli = country == p.COUNTRIES.index("IL")
    return pd.DataFrame(
        {
            "customer_id": columns["customer_id"],
            "name": names.company_names(country, rng),
            "segment": np.asarray(p.SEGMENTS, dtype=object)[segment],
            "industry": np.asarray(p.INDUSTRIES, dtype=object)[industry],
            "country": np.asarray(p.COUNTRIES, dtype=object)[country],
            "currency": currency,
            "credit_limit": columns["credit_limit"],
            "created_date": columns["created_date"],
            "collector": names.collectors(israeli, rng),
            "language": np.asarray(p.COUNTRY_LANGUAGE, dtype=object)[country],
        }
    )


def _volumes(
    rng: np.random.Generator, segment: np.ndarray, currency: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(invoices per year, typical invoice amount in the customer's currency)."""
    rate_noise = rng.normal(0.0, p.INVOICE_RATE_SPREAD_LOG, len(segment))
    # the -s^2/2 keeps each segment's mean rate at its nominal value
    invoices_per_year = np.asarray(p.SEGMENT_INVOICES_PER_YEAR)[segment] * np.exp(
        rate_noise - p.INVOICE_RATE_SPREAD_LOG**2 / 2
    )
    usd_per_unit = np.array([p.USD_PER_UNIT[code] for code in currency])
    typical_usd = np.asarray(p.SEGMENT_TYPICAL_AMOUNT_USD)[segment] * np.exp(
        rng.normal(0.0, p.TYPICAL_AMOUNT_SPREAD_LOG, len(segment))
    )
    return invoices_per_year, typical_usd / usd_per_unit


def _discipline_baselines(
    rng: np.random.Generator, segment: np.ndarray, country: np.ndarray, industry: np.ndarray
) -> np.ndarray:
    segment_mean = np.asarray(p.SEGMENT_DISCIPLINE_MEAN)[segment]
    segment_spread = np.asarray(p.SEGMENT_DISCIPLINE_SPREAD)[segment]
    return (
        rng.normal(segment_mean, segment_spread)
        + np.asarray(p.COUNTRY_DISCIPLINE)[country]
        + np.asarray(p.INDUSTRY_DISCIPLINE)[industry]
    )


def _created_days(rng: np.random.Generator, count: int, start_day: int, end_day: int) -> np.ndarray:
    existing = rng.random(count) < p.EXISTING_CUSTOMER_SHARE
    before = start_day - rng.integers(30, p.MAX_TENURE_DAYS, count)
    # new customers are onboarded at least a month before the end, so they buy something
    during = rng.integers(start_day, max(start_day + 1, end_day - 30), count)
    return np.where(existing, before, during).astype(np.int64)


def _usual_terms(rng: np.random.Generator, israeli: np.ndarray) -> np.ndarray:
    local = rng.choice(len(p.TERMS), size=len(israeli), p=p.TERMS_SHARES_ISRAEL)
    other = rng.choice(len(p.TERMS), size=len(israeli), p=p.TERMS_SHARES_OTHER)
    return np.where(israeli, local, other)


def _credit_limits(
    rng: np.random.Generator, typical_amount: np.ndarray, invoices_per_year: np.ndarray
) -> np.ndarray:
    monthly_billing = typical_amount * invoices_per_year / 12
    raw = monthly_billing * p.CREDIT_LIMIT_MONTHS * rng.uniform(0.8, 1.5, len(typical_amount))
    return np.maximum(1000.0, np.round(raw / 1000.0) * 1000.0)
