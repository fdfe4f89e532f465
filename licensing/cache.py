"""A read-through cache with a short lifetime, one per process.

Workers share nothing: a suspension or rotation reaches every worker when its entry
expires (``LICENSING_CACHE_TTL`` seconds). Dictionary reads and writes are atomic under
the GIL, so no lock is needed: two threads missing at once both load, the last wins.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")


class TTLCache(Generic[K, V]):
    def __init__(self, ttl: float, *, max_entries: int = 100_000) -> None:
        self._ttl = ttl
        self._max_entries = max_entries
        self._entries: dict[K, tuple[float, V]] = {}

    def get(self, key: K, load: Callable[[], V]) -> V:
        now = time.monotonic()
        entry = self._entries.get(key)
        if entry is not None and entry[0] > now:
            return entry[1]
        value = load()
        if self._ttl > 0:
            if len(self._entries) >= self._max_entries:
                self._entries.clear()  # crude but bounded; entries live seconds anyway
            self._entries[key] = (now + self._ttl, value)
        return value

    def discard(self, key: K) -> None:
        """Forget ``key``: its next read loads it again."""
        self._entries.pop(key, None)

    def clear(self) -> None:
        self._entries.clear()
