"""Hidden behaviour over time: drifting payment discipline, stress episodes, a market shock."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ledger.synthetic import params as p
from ledger.synthetic.config import DAYS_PER_YEAR, month_index

NEVER_DAY = 10**9
"""Sentinel day number far after any ledger: an episode that never ends, no credit hold."""


@dataclass(frozen=True)
class Behaviour:
    """Per customer of a chunk: monthly discipline and the stress episode (if any)."""

    first_month: int
    discipline: np.ndarray  # customers x months, logit offset (higher = later)
    stress_onset_day: np.ndarray  # NEVER_DAY when the customer has no episode
    stress_end_day: np.ndarray  # NEVER_DAY while it has not recovered
    credit_hold_day: np.ndarray  # invoicing stops from this day; NEVER_DAY for none
    shock_day: int = NEVER_DAY  # a market shock worsens everyone's discipline from this day
    shock_logit: float = 0.0  # ... by this much (logit, higher = later) once fully ramped

    def discipline_at(self, customer: np.ndarray, day: np.ndarray) -> np.ndarray:
        """The latent discipline of ``customer`` (positions) on ``day`` (day numbers).

        Includes the market shock, if any: ``shock_logit`` times a ramp from 0 on the day
        before ``shock_day`` to 1 after ``params.SHOCK_RAMP_DAYS`` days.
        """
        months = np.clip(month_index(day) - self.first_month, 0, self.discipline.shape[1] - 1)
        walk = self.discipline[customer, months]
        if self.shock_day == NEVER_DAY or self.shock_logit == 0.0:
            return walk
        return walk + self.shock_logit * self.shock_share_at(day)

    def shock_share_at(self, day: np.ndarray) -> np.ndarray:
        """How much of the shock applies on ``day``: 0 before the shock date, 1 once ramped."""
        elapsed = np.asarray(day, dtype=np.int64) - self.shock_day + 1
        return np.clip(elapsed / p.SHOCK_RAMP_DAYS, 0.0, 1.0)

    def in_stress_at(self, customer: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Whether the customer is inside a stress episode on that day."""
        return (self.stress_onset_day[customer] <= day) & (day < self.stress_end_day[customer])

    def severity_at(self, customer: np.ndarray, day: np.ndarray) -> np.ndarray:
        """Lateness stress (0 = none, 1 = full) on that day: ramps up late, fades on recovery."""
        onset = self.stress_onset_day[customer]
        end = self.stress_end_day[customer]
        # lateness lags the onset: payments shrink first (see payments.py)
        ramp_start = onset + p.STRESS_QUIET_DAYS
        recovered = end < NEVER_DAY
        ramp = np.clip(day - ramp_start, 0, None) / p.STRESS_RAMP_DAYS
        peak_at_end = np.minimum(1.0, np.clip(end - ramp_start, 0, None) / p.STRESS_RAMP_DAYS)
        fade = np.clip(1.0 - (day - end) / p.STRESS_DECAY_DAYS, 0.0, 1.0)
        severity = np.where(
            recovered,
            np.where(day < end, np.minimum(1.0, ramp), peak_at_end * fade),
            np.minimum(p.STRESS_MAX_SEVERITY, ramp),
        )
        return np.where(day >= onset, severity, 0.0)


def draw_behaviour(
    rng: np.random.Generator,
    baseline: np.ndarray,
    start_day: int,
    end_day: int,
    shock: tuple[int, float] = (NEVER_DAY, 0.0),
) -> Behaviour:
    """Draw each customer's discipline walk and stress episode over the ledger's span.

    ``shock`` is (shock day number, logit): deterministic, so it draws nothing and a
    ledger without a shock is the same as before the option existed.
    """
    count = len(baseline)
    first_month = int(month_index(np.array([start_day]))[0])
    months = int(month_index(np.array([end_day]))[0]) - first_month + 1
    discipline = _discipline_walk(rng, baseline, months)
    span_years = (end_day - start_day + p.STRESS_LEAD_DAYS) / DAYS_PER_YEAR
    has_episode = rng.random(count) < 1.0 - np.exp(-p.STRESS_EPISODES_PER_YEAR * span_years)
    onset = rng.integers(start_day - p.STRESS_LEAD_DAYS, max(start_day, end_day - 30), count)
    length_days = np.round(
        p.STRESS_MEDIAN_DAYS * np.exp(rng.normal(0.0, p.STRESS_SPREAD_LOG, count))
    ).astype(np.int64)
    recovers = rng.random(count) < p.STRESS_RECOVERY_SHARE
    hold_after = rng.integers(p.CREDIT_HOLD_AFTER_DAYS[0], p.CREDIT_HOLD_AFTER_DAYS[1] + 1, count)
    onset = np.where(has_episode, onset, NEVER_DAY)
    return Behaviour(
        first_month=first_month,
        discipline=discipline,
        stress_onset_day=onset,
        stress_end_day=np.where(has_episode & recovers, onset + length_days, NEVER_DAY),
        credit_hold_day=np.where(has_episode & ~recovers, onset + hold_after, NEVER_DAY),
        shock_day=shock[0],
        shock_logit=shock[1],
    )


def _discipline_walk(rng: np.random.Generator, baseline: np.ndarray, months: int) -> np.ndarray:
    """Mean-reverting monthly random walk around each baseline (AR(1) deviations)."""
    persistence = p.DRIFT_PERSISTENCE_MONTHLY
    stationary_sd = p.DRIFT_STEP_MONTHLY / np.sqrt(1.0 - persistence**2)
    steps = rng.normal(0.0, p.DRIFT_STEP_MONTHLY, (len(baseline), months))
    deviation = np.empty_like(steps)
    deviation[:, 0] = rng.normal(0.0, stationary_sd, len(baseline))
    # a loop over months (tens), vectorized over customers
    for month in range(1, months):
        deviation[:, month] = persistence * deviation[:, month - 1] + steps[:, month]
    return baseline[:, None] + deviation
