"""Per-key rate limiting: a token bucket per API key, in each worker process.

A key may send ``burst`` requests at once and ``per_second`` requests a second after
that; a request over the limit gets 429 with ``Retry-After`` (whole seconds, rounded up)
and a JSON body saying the limit. Buckets live in the worker's memory, so with N workers
a key gets up to N times the limit; a restart refills them. ``per_second = 0`` turns
limiting off. Only authenticated callers get a bucket, so memory is bounded by the
number of keys.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

from serving.auth import Caller
from serving.errors import ApiError


@dataclass
class _Bucket:
    tokens: float
    refilled_at: float  # clock seconds


class RateLimiter:
    """Token buckets by key id; ``acquire`` takes one token or says how long to wait."""

    def __init__(
        self,
        per_second: float,
        burst: int,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.per_second = per_second
        self.burst = max(1, burst)
        self._clock = clock
        self._buckets: dict[str, _Bucket] = {}
        self._lock = threading.Lock()

    @property
    def enabled(self) -> bool:
        return self.per_second > 0

    def acquire(self, key_id: str) -> float:
        """0 when the request may go on (a token is taken), else the seconds until one is."""
        if not self.enabled:
            return 0.0
        now = self._clock()
        with self._lock:
            bucket = self._buckets.get(key_id)
            if bucket is None:
                bucket = self._buckets[key_id] = _Bucket(float(self.burst), now)
            elapsed = max(0.0, now - bucket.refilled_at)
            bucket.tokens = min(float(self.burst), bucket.tokens + elapsed * self.per_second)
            bucket.refilled_at = now
            if bucket.tokens >= 1.0:
                bucket.tokens -= 1.0
                return 0.0
            return (1.0 - bucket.tokens) / self.per_second


def enforce_rate_limit(limiter: RateLimiter, caller: Caller) -> None:
    """Raise a 429 ``ApiError`` when ``caller``'s key is over its limit."""
    wait_seconds = limiter.acquire(caller.key_id)
    if wait_seconds <= 0:
        return
    retry_after = max(1, math.ceil(wait_seconds))
    raise ApiError(
        429,
        f"too many requests for the API key {caller.name!r}: at most "
        f"{limiter.per_second:g} per second (bursts of {limiter.burst}); "
        f"retry after {retry_after} s",
        headers={"Retry-After": str(retry_after)},
        error="rate_limited",
        key_name=caller.name,
        limit_per_second=limiter.per_second,
        burst=limiter.burst,
        retry_after_seconds=retry_after,
    )
