"""Rate-limit counters in a SQL database: a ``limits`` storage shared by every worker.

Flask-Limiter counts in the memory of one process unless given a shared storage; the
``limits`` library offers Redis, Memcached, MongoDB and etcd, none of them a database
the server already has. This storage keeps fixed-window counters in the
``rate_limit_counters`` table, so a limit holds across the workers of a host and, on
PostgreSQL, across hosts, without Redis.

A hit is one statement (an upsert that returns the new count and the window's end), run
on a connection of its own in autocommit mode: it is never rolled back with the request
it limits, and it never waits for that request's transaction. The figures a request
reads right after its own hit (the ``RateLimit-*`` headers) are the ones the upsert
returned, so one hit is one round trip; :meth:`DatabaseCounters.forget` drops them when
the next request begins.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from typing import Any

from limits.storage import Storage
from sqlalchemy import Engine, text
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.schema import CreateIndex, CreateTable

from licensing.models import RateLimitCounter

SCHEME = "licensing-database"

_HIT = text(
    "INSERT INTO rate_limit_counters (name, hits, expires_at) "
    "VALUES (:name, :amount, :expires_at) "
    "ON CONFLICT (name) DO UPDATE SET "
    "hits = CASE WHEN rate_limit_counters.expires_at <= :now THEN excluded.hits "
    "ELSE rate_limit_counters.hits + excluded.hits END, "
    "expires_at = CASE WHEN rate_limit_counters.expires_at <= :now THEN excluded.expires_at "
    "ELSE rate_limit_counters.expires_at END "
    "RETURNING hits, expires_at"
)
_READ = text(
    "SELECT hits, expires_at FROM rate_limit_counters WHERE name = :name AND expires_at > :now"
)
_CLEAR = text("DELETE FROM rate_limit_counters WHERE name = :name")
_RESET = text("DELETE FROM rate_limit_counters")
_PRUNE = text("DELETE FROM rate_limit_counters WHERE expires_at <= :now")
# Windows that ended are deleted now and then, not on every hit.
PRUNE_INTERVAL = 60.0


def clock() -> float:
    """The clock of every window: seconds since the epoch, as ``limits`` counts them."""
    return time.time()


class DatabaseCounters(Storage):
    """Fixed-window counters in ``rate_limit_counters`` (``licensing-database://``).

    ``engine`` is called for the engine to count on, each time (an application's engine
    is known only in its context). ``create_table`` creates the table on first use, for
    a counters database of its own that no migration manages (see api/ratelimits.py).
    """

    STORAGE_SCHEME = [SCHEME]

    def __init__(
        self,
        uri: str | None = None,
        wrap_exceptions: bool = False,
        *,
        engine: Callable[[], Engine],
        create_table: bool = False,
        **options: Any,
    ) -> None:
        super().__init__(uri, wrap_exceptions=wrap_exceptions)
        self._engine = engine
        self._create_table = create_table
        self._created: set[int] = set()
        self._own = threading.local()  # what this thread's latest hits returned
        self._pruned_at = 0.0

    @property
    def base_exceptions(self) -> type[Exception] | tuple[type[Exception], ...]:
        return SQLAlchemyError

    def forget(self) -> None:
        """Drop the figures of this thread's earlier hits (a new request begins)."""
        self._own.counts = {}

    def incr(self, key: str, expiry: int, amount: int = 1) -> int:
        now = clock()
        params = {"name": key, "amount": amount, "expires_at": now + expiry, "now": now}
        row = self._run(lambda connection: connection.execute(_HIT, params).one())
        hits, expires_at = int(row[0]), float(row[1])
        self._counts()[key] = (hits, expires_at)
        if now - self._pruned_at > PRUNE_INTERVAL:
            self._pruned_at = now
            self._run(lambda connection: connection.execute(_PRUNE, {"now": now}))
        return hits

    def get(self, key: str) -> int:
        return self._read(key)[0]

    def get_expiry(self, key: str) -> float:
        return self._read(key)[1]

    def check(self) -> bool:
        try:
            self._run(lambda connection: connection.execute(text("SELECT 1")))
        except SQLAlchemyError:
            return False
        return True

    def reset(self) -> int | None:
        deleted = self._run(lambda connection: connection.execute(_RESET).rowcount)
        self.forget()
        return int(deleted)

    def clear(self, key: str) -> None:
        self._run(lambda connection: connection.execute(_CLEAR, {"name": key}))
        self._counts().pop(key, None)

    def _counts(self) -> dict[str, tuple[int, float]]:
        counts: dict[str, tuple[int, float]] | None = getattr(self._own, "counts", None)
        if counts is None:
            counts = self._own.counts = {}
        return counts

    def _read(self, key: str) -> tuple[int, float]:
        own = self._counts().get(key)
        if own is not None:
            return own
        now = clock()
        found = self._run(
            lambda connection: connection.execute(_READ, {"name": key, "now": now}).first()
        )
        return (int(found[0]), float(found[1])) if found is not None else (0, now)

    def _run(self, statement: Callable[[Any], Any]) -> Any:
        """One statement on a connection of its own, committed when it returns."""
        engine = self._engine()
        if self._create_table and id(engine) not in self._created:
            self._ensure_table(engine)
        with engine.connect() as connection:
            if connection.dialect.name != "sqlite":
                # No BEGIN and COMMIT around the statement: one round trip. (SQLite runs
                # in-process; its transaction takes the write lock at BEGIN, see database.py.)
                connection.execution_options(isolation_level="AUTOCOMMIT")
            result = statement(connection)
            connection.commit()
            return result

    def _ensure_table(self, engine: Engine) -> None:
        table = RateLimitCounter.__table__
        with engine.begin() as connection:
            connection.execute(CreateTable(table, if_not_exists=True))  # type: ignore[arg-type]
            for index in table.indexes:  # type: ignore[attr-defined]
                connection.execute(CreateIndex(index, if_not_exists=True))
        self._created.add(id(engine))
