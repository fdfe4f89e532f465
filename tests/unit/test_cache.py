"""The hot path's read-through cache: entries live for the TTL, then are read again."""

from __future__ import annotations

import pytest

from licensing import cache as cache_module
from licensing.cache import TTLCache


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    clock = Clock()
    monkeypatch.setattr(cache_module.time, "monotonic", clock)
    return clock


def test_an_entry_is_served_from_the_cache_until_its_ttl_passes(clock: Clock) -> None:
    loads: list[str] = []
    cache: TTLCache[str, str] = TTLCache(5)

    def load() -> str:
        loads.append("x")
        return f"value {len(loads)}"

    assert cache.get("k", load) == "value 1"
    clock.now += 4.9
    assert cache.get("k", load) == "value 1"
    clock.now += 0.2  # past the TTL: a suspension made meanwhile is now seen
    assert cache.get("k", load) == "value 2"
    assert len(loads) == 2


def test_a_zero_ttl_never_caches(clock: Clock) -> None:
    cache: TTLCache[str, int] = TTLCache(0)
    values = iter(range(3))
    assert [cache.get("k", lambda: next(values)) for _ in range(3)] == [0, 1, 2]


def test_the_cache_stays_bounded(clock: Clock) -> None:
    cache: TTLCache[int, int] = TTLCache(60, max_entries=3)
    for key in range(10):
        cache.get(key, lambda key=key: key)
    assert len(cache._entries) <= 3


def test_a_discarded_entry_is_loaded_again_before_its_ttl(clock: Clock) -> None:
    loads: list[str] = []
    cache: TTLCache[str, str] = TTLCache(5)

    def load() -> str:
        loads.append("x")
        return f"value {len(loads)}"

    assert cache.get("k", load) == "value 1"
    assert cache.get("other", load) == "value 2"
    cache.discard("k")
    cache.discard("never cached")  # nothing to forget: no error
    clock.now += 1
    assert cache.get("k", load) == "value 3"
    assert cache.get("other", load) == "value 2"  # the others stay cached
