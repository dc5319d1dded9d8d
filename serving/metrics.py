"""Prometheus metrics of the service, in a registry of its own per app.

One registry per ``create_app`` (tests build many apps in one process). With several
uvicorn workers each process counts its own requests; scrape each worker, or run one.
Scoring code counts scored customers with ``ServiceMetrics.record_scores``.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Callable, Iterable, Iterator
from typing import Protocol

from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector

EXPOSITION_CONTENT_TYPE = CONTENT_TYPE_LATEST
LATENCY_BUCKETS_SECONDS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
UNMATCHED_ROUTE = "unmatched"


class ModelStatusView(Protocol):
    """What the metrics read of ``serving.model_holder.HolderStatus``."""

    @property
    def name(self) -> str: ...
    @property
    def alias(self) -> str: ...
    @property
    def version(self) -> str | None: ...
    @property
    def run_id(self) -> str | None: ...
    @property
    def reload_failures(self) -> int: ...


class _ModelCollector(Collector):
    """Reads the model holder at scrape time, so the numbers are never stale."""

    def __init__(self, status: Callable[[], ModelStatusView]) -> None:
        self._status = status

    def collect(self) -> Iterator[Metric]:
        status = self._status()
        info = GaugeMetricFamily(
            "payrisk_model_info",
            "The model being served (1), by name, alias, version and run id",
            labels=["name", "alias", "version", "run_id"],
        )
        if status.version is not None:
            info.add_metric([status.name, status.alias, status.version, status.run_id or ""], 1)
        yield info
        yield GaugeMetricFamily(
            "payrisk_model_loaded",
            "1 when a model is loaded and served, else 0",
            value=0 if status.version is None else 1,
        )
        yield CounterMetricFamily(
            "payrisk_model_reload_failures",
            "Attempts to load a new model version that failed (the old one kept serving)",
            value=status.reload_failures,
        )


class _QueueCollector(Collector):
    """Requests waiting in each lane (``serving.lanes``), read at scrape time."""

    def __init__(self, waiting: Callable[[], dict[str, int]]) -> None:
        self._waiting = waiting

    def collect(self) -> Iterator[Metric]:
        gauge = GaugeMetricFamily(
            "payrisk_lane_waiting",
            "Requests of this worker waiting for a slot of the lane (bulk: worklist, KPIs, pages)",
            labels=["lane"],
        )
        for lane, count in sorted(self._waiting().items()):
            gauge.add_metric([lane], count)
        yield gauge


class ServiceMetrics:
    """The service's counters and histograms, and their text exposition."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "payrisk_http_requests",
            "HTTP requests by method, route template and status code",
            ["method", "route", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "payrisk_http_request_duration_seconds",
            "HTTP request latency in seconds, by method, route template and status code",
            ["method", "route", "status"],
            buckets=LATENCY_BUCKETS_SECONDS,
            registry=self.registry,
        )
        self.scores_by_tier = Counter(
            "payrisk_scores",
            "Customers scored, by risk tier",
            ["tier"],
            registry=self.registry,
        )

    def observe_request(self, method: str, route: str, status: int, seconds: float) -> None:
        """Count one finished request and its latency (seconds)."""
        labels = {"method": method, "route": route, "status": str(status)}
        self.requests.labels(**labels).inc()
        self.latency.labels(**labels).observe(seconds)

    def record_scores(self, tiers: Iterable[object]) -> None:
        """Count scored customers by tier (one entry per customer).

        A customer without a tier (a currency without an exchange rate, ``models.rollup``)
        counts as ``unrated``.
        """
        named = (tier if isinstance(tier, str) else "unrated" for tier in tiers)
        for tier, count in Tally(named).items():
            self.scores_by_tier.labels(tier=tier).inc(count)

    def watch_model(self, status: Callable[[], ModelStatusView]) -> None:
        """Export the served model's identity and reload failures, read at scrape time."""
        self.registry.register(_ModelCollector(status))

    def watch_lanes(self, waiting: Callable[[], dict[str, int]]) -> None:
        """Export how many requests wait in each lane, read at scrape time."""
        self.registry.register(_QueueCollector(waiting))

    def exposition(self) -> bytes:
        """Every metric in the Prometheus text format."""
        return generate_latest(self.registry)
