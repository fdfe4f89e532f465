"""A PostgreSQL advisory lock held on a connection of its own, for work that spans many
transactions (the misuse scan commits once per chunk).

The lock lives on its own connection, not the session's: a session hands its connection
back to the pool at every commit, and a session-level advisory lock must be released on
the connection that took it. If the process dies, PostgreSQL ends the connection and the
lock with it. On SQLite there is nothing to take: its write lock serialises the writers.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, text


def lock_key(name: str) -> int:
    """A stable signed 64-bit key for ``name`` (what ``pg_advisory_lock`` takes)."""
    digest = hashlib.sha256(f"licensing:{name}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


@contextmanager
def held(engine: Engine, name: str, *, wait: bool) -> Iterator[bool]:
    """Whether this process holds the lock ``name`` for the block: ``wait`` blocks until
    it does; otherwise the block runs at once and learns ``False`` if another holds it."""
    if engine.dialect.name != "postgresql":
        yield True
        return
    key = lock_key(name)
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        if wait:
            connection.execute(text("SELECT pg_advisory_lock(:key)"), {"key": key})
            taken = True
        else:
            taken = bool(connection.scalar(text("SELECT pg_try_advisory_lock(:key)"), {"key": key}))
        try:
            yield taken
        finally:
            if taken:
                connection.execute(text("SELECT pg_advisory_unlock(:key)"), {"key": key})
