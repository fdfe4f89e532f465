"""Scrubbing the database files after an erasure, so erased values are not left readable.

Deleting or updating a row does not remove its bytes. SQLite leaves them in free cells,
free pages and the write-ahead log; PostgreSQL leaves dead tuples in the table's heap,
its indexes and TOAST until the space happens to be reused, and a plain VACUUM only
marks that space free. What removes them, run after the erasure has committed:

- SQLite: the erasure's own connection writes with ``secure_delete`` on (zeros over what
  it deletes: services/erasure.py); then ``VACUUM`` rebuilds every page (earlier
  updates, such as the retention job's clearing of raw server names, freed cells that
  were never zeroed), and ``wal_checkpoint(TRUNCATE)`` moves the WAL into the file and
  empties it, since WAL frames are whole page images from before the erasure.
- PostgreSQL: ``VACUUM (FULL, ANALYZE)`` of each table the erasure changed writes the
  live rows into new files (heap, indexes, TOAST) and drops the old ones; it holds an
  ACCESS EXCLUSIVE lock on the table while it runs, so check-ins touching that table
  wait (docs: the time it takes). ANALYZE replaces the sampled values in pg_statistic,
  whose old rows are then dead tuples of their own: ``VACUUM (FULL) pg_statistic``
  rewrites it too. A table counts as scrubbed only when its file node changed (a
  VACUUM refused for lack of privilege only warns, it does not fail) and VACUUM did not
  have to copy deleted rows along because an older transaction could still see them.

Not reached from here, and said so in docs/privacy.md: PostgreSQL's WAL segments and
archives, file-system blocks of unlinked files, and backups (the erasure ledger is for
those).
"""

from __future__ import annotations

import re
import time
from collections.abc import Iterable
from dataclasses import dataclass

from sqlalchemy import Connection, Engine, text
from sqlalchemy.exc import OperationalError

# Only the tables erasure may change are ever named in a statement built here.
SCRUBBABLE = frozenset(
    {
        "activations",
        "customers",
        "lease_presentations",
        "legal_holds",
        "licenses",
        "misuse_case_events",
        "misuse_cases",
        "misuse_exceptions",
        "privacy_requests",
        "replay_nonces",
        "signature_failures",
        "usage_observations",
    }
)
STATISTICS = "pg_statistic"
# How long the scrub waits for transactions older than it to end before rewriting.
WAIT_SECONDS = 120.0
# How long each table's rewrite waits for its exclusive lock before giving up.
LOCK_WAIT_MS = 5000


@dataclass(frozen=True, slots=True)
class ScrubResult:
    backend: str
    scrubbed: tuple[str, ...]  # tables (or, on SQLite, the file and its WAL) rewritten
    seconds: float
    complete: bool  # false: a step could not finish (a reader pinned the WAL; no privilege)
    problem: str | None = None


def scrub(
    engine: Engine, tables: Iterable[str], *, wait_seconds: float = WAIT_SECONDS
) -> ScrubResult:
    """Rewrite what ``tables`` (changed by a committed erasure) left in the files; on
    PostgreSQL first wait up to ``wait_seconds`` for older transactions to end."""
    wanted = sorted(set(tables))
    unknown = [t for t in wanted if t not in SCRUBBABLE]
    if unknown:
        raise ValueError(f"not a table erasure changes: {', '.join(unknown)}")
    started = time.monotonic()
    if engine.dialect.name == "sqlite":
        scrubbed, problem = _sqlite(engine)
    else:
        scrubbed, problem = _postgresql(engine, wanted, wait_seconds)
    return ScrubResult(
        backend=engine.dialect.name,
        scrubbed=scrubbed,
        seconds=round(time.monotonic() - started, 3),
        complete=problem is None,
        problem=problem,
    )


def _sqlite(engine: Engine) -> tuple[tuple[str, ...], str | None]:
    # The raw connection: VACUUM cannot run in a transaction, and the engine's own
    # connections begin one (BEGIN IMMEDIATE) before any statement.
    connection = engine.raw_connection()
    try:
        cursor = connection.cursor()
        cursor.execute("PRAGMA secure_delete = ON")
        cursor.execute("VACUUM")
        busy, _log, _moved = cursor.execute("PRAGMA wal_checkpoint(TRUNCATE)").fetchone()
        cursor.close()
    finally:
        connection.close()
    if busy:
        return ("database file",), (
            "the write-ahead log could not be emptied: a reader held it; run the erasure's "
            "scrub again when the server is quiet"
        )
    return ("database file", "write-ahead log"), None


def _postgresql(
    engine: Engine, tables: list[str], wait_seconds: float
) -> tuple[tuple[str, ...], str | None]:
    # The driver is an extra: imported only when the database is PostgreSQL.
    from psycopg.errors import LockNotAvailable

    scrubbed: list[str] = []
    held_back: list[str] = []
    missed: list[str] = []
    locked: list[str] = []
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        notices: list[str] = []
        driver = connection.connection.driver_connection
        driver.add_notice_handler(  # type: ignore[union-attr]
            lambda d: notices.append(f"{d.message_primary or ''}\n{d.message_detail or ''}")
        )
        _wait_for_older_transactions(connection, wait_seconds)
        # A VACUUM FULL waiting for its lock would queue every check-in behind it: it
        # gives up instead, and the report names the table to scrub again.
        connection.exec_driver_sql(f"SET lock_timeout = '{LOCK_WAIT_MS}ms'")
        for table in [*tables, STATISTICS]:
            if table == STATISTICS:
                # The ANALYZE just run replaced the old statistics: they are dead rows
                # now, which any transaction begun meanwhile would still hold back.
                _wait_for_older_transactions(connection, wait_seconds)
            before = _file_node(connection, table)
            notices.clear()
            # A name from SCRUBBABLE (or the catalog's), never from input.
            options = "FULL, VERBOSE" if table == STATISTICS else "FULL, VERBOSE, ANALYZE"
            try:
                connection.exec_driver_sql(f'VACUUM ({options}) "{table}"')
            except OperationalError as exc:
                if not isinstance(exc.orig, LockNotAvailable):
                    raise
                locked.append(table)
                continue
            if _file_node(connection, table) == before:
                missed.append(table)
            elif any(int(n) for n in _KEPT_DEAD.findall("\n".join(notices))):
                held_back.append(table)
            else:
                scrubbed.append(table)
    problems = []
    if locked:
        problems.append(f"not locked within {LOCK_WAIT_MS} ms (busy): {', '.join(locked)}")
    if missed:
        problems.append(f"not rewritten (privilege?): {', '.join(missed)}")
    if held_back:
        problems.append(
            "deleted rows copied into the new files because a transaction older than the "
            f"erasure was still running (in any database of the server): {', '.join(held_back)}"
        )
    return tuple(scrubbed), "; ".join(problems) or None


# VACUUM VERBOSE's detail when a snapshot older than the deletion still needs the rows:
# VACUUM FULL then copies them into the new file as well.
_KEPT_DEAD = re.compile(r"(\d+) dead row versions cannot be removed yet")


def _wait_for_older_transactions(connection: Connection, wait_seconds: float) -> None:
    """Wait (a bounded time) until no transaction or snapshot older than now is left.

    Transaction ids are the whole server's, so a long transaction in any database (a
    dump, a bulk load) holds back the removal of rows deleted after it began; the
    rewrite's own check above says whether the wait was enough.
    """
    horizon = connection.execute(
        text("SELECT (pg_snapshot_xmax(pg_current_snapshot())::text::numeric % 4294967296)")
    ).scalar_one()
    older = text(
        "SELECT count(*) FROM pg_stat_activity WHERE pid <> pg_backend_pid() AND ("
        "age(backend_xid) > age(CAST(CAST(:h AS text) AS xid)) OR "
        "age(backend_xmin) > age(CAST(CAST(:h AS text) AS xid)))"
    )
    deadline = time.monotonic() + wait_seconds
    while connection.execute(older, {"h": int(horizon)}).scalar_one():
        if time.monotonic() >= deadline:
            return
        time.sleep(0.2)


def _file_node(connection: Connection, table: str) -> int | None:
    row = connection.execute(
        text("SELECT pg_relation_filenode(CAST(:t AS regclass))"), {"t": table}
    ).first()
    return None if row is None else row[0]
