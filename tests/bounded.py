"""Hypothesis settings of the suite's property tests: a bounded number of examples,
derandomized (reproducible in CI), no example database written into the repo, and no
deadline (a real app and database answer in milliseconds that vary with the machine)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings


def bounded(max_examples: int) -> settings:
    """Settings for a property test that tries ``max_examples`` examples."""
    return settings(
        max_examples=max_examples,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
