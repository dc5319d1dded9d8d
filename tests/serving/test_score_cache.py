"""The LRU cache of answers (``serving.score_cache.ScoreCache``): entries expire, the most
recently used stay, a cache of no entries keeps nothing.
"""

from __future__ import annotations

from serving.score_cache import ScoreCache


def test_cached_answers_expire() -> None:
    now = [0.0]
    cache: ScoreCache[str] = ScoreCache(max_entries=4, max_age_seconds=60, clock=lambda: now[0])
    cache.put("a", "A")
    now[0] = 60.0
    assert cache.get("a") == "A"
    now[0] = 60.5
    assert (cache.get("a"), len(cache)) == (None, 0)


def test_the_cache_keeps_the_most_recently_used_entries() -> None:
    cache: ScoreCache[str] = ScoreCache(max_entries=2)
    cache.put("a", "A")
    cache.put("b", "B")
    assert cache.get("a") == "A"  # a is now the most recent
    cache.put("c", "C")
    assert (cache.get("b"), cache.get("a"), cache.get("c")) == (None, "A", "C")
    disabled: ScoreCache[str] = ScoreCache(max_entries=0)
    disabled.put("a", "A")
    assert disabled.get("a") is None and len(disabled) == 0
