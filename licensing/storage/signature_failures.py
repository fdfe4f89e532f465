"""Invalid signatures per known key id: counted in process, written in batches.

The misuse rule ``SIGNATURE_FAILURES`` needs how many requests signed wrongly for a key id
in each five minutes. Writing every failure as it happens would add a database round trip
to a request anyone can send for nothing; instead each process tallies failures in memory
and writes the tally now and then: every few seconds from a daemon thread, and when the
process exits. One flush is one short transaction of its own (autocommit on PostgreSQL,
as ``storage/rate_counters.py``), an upsert per (key id, bucket) that adds to the stored
count, so the workers of every host add up in the same rows. A flush that fails keeps
its counts for the next one. The scan reads the table.

Counts a process holds when it is killed outright (``SIGKILL``) are lost; that is at most
the last few seconds of one worker's failures, which a burst rule can afford.
"""

from __future__ import annotations

import atexit
import logging
import os
import threading
import weakref
from collections import Counter
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Table, bindparam
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import SQLAlchemyError

from licensing.models import SignatureFailure

log = logging.getLogger(__name__)

BUCKET = timedelta(minutes=5)
_table: Table = SignatureFailure.__table__  # type: ignore[assignment]
_tallies: weakref.WeakSet[SignatureFailureTally] = weakref.WeakSet()
_exit_hook = threading.Lock()
_exit_registered: list[bool] = []  # one entry once the exit flush is registered


def bucket_start(moment: datetime) -> datetime:
    """The start of the five-minute bucket ``moment`` falls in (UTC)."""
    seconds = int(moment.timestamp())
    width = int(BUCKET.total_seconds())
    return datetime.fromtimestamp(seconds - seconds % width, UTC)


def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(_table).values(
        key_id=bindparam("p_key_id"),
        bucket_start=bindparam("p_bucket_start", type_=_table.c.bucket_start.type),
        count=bindparam("p_count"),
    )
    return statement.on_conflict_do_update(
        index_elements=["key_id", "bucket_start"],
        set_={"count": _table.c.count + statement.excluded.count},
    )


class SignatureFailureTally:
    """Failures per (key id, bucket) held by one process until the next flush.

    ``interval`` is the seconds between flushes by the daemon thread; 0 runs no thread
    and no exit flush (counts are written only by :meth:`flush`: tests).
    """

    def __init__(self, *, interval: float = 5.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._counts: Counter[tuple[str, datetime]] = Counter()
        self._engine: Engine | None = None
        self._flusher_pid: int | None = None
        self._stop = threading.Event()
        _tallies.add(self)

    def attach(self, engine: Engine) -> None:
        """The database the tally is written to (the application's)."""
        self._engine = engine

    def count(self, key_id: str, now: datetime) -> None:
        """One more invalid signature for ``key_id`` (a known license's) at ``now``."""
        with self._lock:
            self._counts[(key_id, bucket_start(now))] += 1
        # Started on the first failure, in the process that sees it: a forked worker
        # does not inherit its parent's thread.
        if self.interval > 0 and self._flusher_pid != os.getpid():
            self._start_flusher()

    def pending(self) -> dict[tuple[str, datetime], int]:
        """What the next flush would write."""
        with self._lock:
            return dict(self._counts)

    def flush(self, connection: Connection | None = None) -> int:
        """Write the counts held so far; returns how many (key id, bucket) rows.

        On ``connection`` the writes join its transaction (the caller commits); without
        one they are committed on a connection of the attached engine's own.
        """
        with self._lock:
            taken, self._counts = self._counts, Counter()
        if not taken:
            return 0
        rows = [
            {"p_key_id": key_id, "p_bucket_start": bucket, "p_count": count}
            for (key_id, bucket), count in sorted(taken.items())  # one lock order
        ]
        try:
            if connection is not None:
                connection.execute(_upsert(connection.dialect.name), rows)
            elif self._engine is not None:
                self._write(self._engine, rows)
            else:
                raise RuntimeError("the signature-failure tally has no database attached")
        except BaseException:
            with self._lock:
                self._counts.update(taken)  # kept for the next flush
            raise
        return len(rows)

    def close(self) -> None:
        """Stop the daemon thread (its last flush is the exit hook's)."""
        self._stop.set()

    @staticmethod
    def _write(engine: Engine, rows: list[dict[str, Any]]) -> None:
        with engine.connect() as connection:
            if connection.dialect.name != "sqlite":
                # One round trip per flush: no BEGIN and COMMIT around it.
                connection.execution_options(isolation_level="AUTOCOMMIT")
            connection.execute(_upsert(connection.dialect.name), rows)
            connection.commit()

    def _start_flusher(self) -> None:
        with self._lock:
            if self._flusher_pid == os.getpid():
                return
            self._flusher_pid = os.getpid()
        _register_exit_flush()
        thread = threading.Thread(
            target=self._flush_periodically, name="signature-failure-flush", daemon=True
        )
        thread.start()

    def _flush_periodically(self) -> None:
        while not self._stop.wait(self.interval):
            self._flush_logged()

    def _flush_logged(self) -> None:
        try:
            self.flush()
        except (SQLAlchemyError, RuntimeError):
            log.warning("signature failures not written yet; kept for the next flush")


def flush_all() -> None:
    """Flush every tally of this process (at exit, and when a gunicorn worker stops)."""
    for tally in list(_tallies):
        if tally.interval > 0:
            tally._flush_logged()


def _register_exit_flush() -> None:
    with _exit_hook:
        if not _exit_registered:
            atexit.register(flush_all)
            _exit_registered.append(True)
