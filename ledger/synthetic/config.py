"""What to generate (``GeneratorConfig``), what comes out (``GeneratedLedger``), and days.

Inside the generator every date is an ``int64`` day number (days since 1970-01-01); only
the frames that leave it carry ``datetime64[ns]``.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

import numpy as np
import pandas as pd

from ledger.errors import PayriskError
from ledger.frames import Ledger

DEFAULT_CHUNK_CUSTOMERS = 1000
DAYS_PER_YEAR = 365.25
MAX_SHOCK_LOGIT = 5.0  # a larger shift is no longer a shock but a different ledger
NEVER_SHOCK_DAY = 10**9  # same as behaviour.NEVER_DAY (behaviour imports this module)


class GeneratorConfigError(PayriskError):
    """A generator setting that cannot work (e.g. no customers, a non-positive span)."""


@dataclass(frozen=True)
class GeneratorConfig:
    """How big a ledger, over which dates, from which seed.

    ``chunk_customers`` is part of what a seed means: customers are generated in blocks of
    that many, each from its own child seed, so block k is the same however many blocks
    run. Keep the default unless you also keep it fixed between runs.

    ``shock_date`` (default none) adds a market shock: from that day every customer's
    payment discipline worsens by ``shock_strength`` logit (ramped over
    ``params.SHOCK_RAMP_DAYS``), so invoices issued from then on are late more often and
    by more days; the oracle includes it. Without it the output is unchanged.
    """

    customers: int = 400
    years: float = 3.0
    seed: int = 7
    end: date = date(2026, 11, 30)
    chunk_customers: int = DEFAULT_CHUNK_CUSTOMERS
    shock_date: date | None = None
    shock_strength: float = 1.0

    def __post_init__(self) -> None:
        if self.customers < 1:
            raise GeneratorConfigError(f"customers must be at least 1, got {self.customers}")
        if not 0.1 <= self.years <= 50:
            raise GeneratorConfigError(f"years must be between 0.1 and 50, got {self.years}")
        if self.seed < 0:
            raise GeneratorConfigError(f"seed must be >= 0, got {self.seed}")
        if self.chunk_customers < 1:
            raise GeneratorConfigError(
                f"chunk_customers must be at least 1, got {self.chunk_customers}"
            )
        self._check_shock()

    def _check_shock(self) -> None:
        if not -MAX_SHOCK_LOGIT <= self.shock_strength <= MAX_SHOCK_LOGIT:
            raise GeneratorConfigError(
                f"shock_strength must be between -{MAX_SHOCK_LOGIT:g} and "
                f"{MAX_SHOCK_LOGIT:g} logit, got {self.shock_strength}"
            )
        if self.shock_date is not None and not (
            self.start_day < day_number(self.shock_date) <= self.end_day
        ):
            raise GeneratorConfigError(
                f"shock_date {self.shock_date} is outside the ledger "
                f"({np.datetime64(self.start_day, 'D')} exclusive to "
                f"{self.end} inclusive)"
            )

    @property
    def shock(self) -> tuple[int, float]:
        """(shock day number, logit) for ``draw_behaviour``; (never, 0) without a shock."""
        if self.shock_date is None:
            return NEVER_SHOCK_DAY, 0.0
        return day_number(self.shock_date), float(self.shock_strength)

    @property
    def end_day(self) -> int:
        """The last day of the ledger, as a day number."""
        return day_number(self.end)

    @property
    def start_day(self) -> int:
        """The first day of the ledger, as a day number."""
        return self.end_day - round(self.years * DAYS_PER_YEAR) + 1

    @property
    def chunk_count(self) -> int:
        """How many chunks of ``chunk_customers`` the customers make (the last may be short)."""
        return -(-self.customers // self.chunk_customers)


@dataclass(frozen=True)
class GeneratedLedger:
    """A synthetic ledger and its oracle (one row per invoice; never a feature)."""

    ledger: Ledger
    oracle: pd.DataFrame


def day_number(value: date) -> int:
    """Days since 1970-01-01."""
    return int(np.datetime64(value, "D").astype(np.int64))


def to_timestamps(days: np.ndarray) -> np.ndarray:
    """Day numbers -> ``datetime64[ns]``; negative sentinels (< -10**6) become NaT."""
    out = np.asarray(days, dtype=np.int64).astype("datetime64[D]").astype("datetime64[ns]")
    out[np.asarray(days) < -(10**6)] = np.datetime64("NaT")
    return out


def month_index(days: np.ndarray) -> np.ndarray:
    """Months since 1970-01 of each day number."""
    return (
        np.asarray(days, dtype=np.int64)
        .astype("datetime64[D]")
        .astype("datetime64[M]")
        .astype(np.int64)
    )


def month_last_day(months: np.ndarray) -> np.ndarray:
    """The day number of the last day of each month index."""
    next_month = (np.asarray(months, dtype=np.int64) + 1).astype("datetime64[M]")
    return next_month.astype("datetime64[D]").astype(np.int64) - 1


NO_DAY = -(10**9)
"""Sentinel day number for "never" (an open invoice's paid day, no dispute...)."""
