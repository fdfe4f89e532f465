"""Check-ins in batches on PostgreSQL: the group commit's writer and its connection.

A batch of check-ins (storage/group_commit.py) is written by ONE statement,
``check_in_batch_sql.CHECK_IN_BATCH_POSTGRESQL``, in autocommit mode: one round trip, durable
when it returns: this is where a check-in on PostgreSQL is committed. SQLite writes one
check-in at a time (storage/check_ins.write_check_in), committed by the face.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from licensing.storage.check_in_batch_sql import CHECK_IN_BATCH_POSTGRESQL
from licensing.storage.check_ins import CheckInGroup, CheckInRow, LiveActivation, Recorded
from licensing.storage.group_commit import GroupCommit, OutcomeUnknown

# psycopg converts a query's placeholders for every execution, unless the query is
# short enough for its conversion cache (psycopg._queries: 4,096 bytes): the statement
# as written is just longer, so it is sent without its indentation (its text holds no
# literal or comment that spans lines).
BATCH_STATEMENT = "\n".join(
    line.strip() for line in CHECK_IN_BATCH_POSTGRESQL.splitlines() if line.strip()
).encode()


def check_in_group(on_batch: Callable[[int], None] | None = None) -> CheckInGroup:
    """The per-process group commit of check-ins (PostgreSQL), with a connection of its own.

    ``on_batch`` is told each batch's size (the wiring passes the metric).
    """
    held = HeldConnection()

    def write(session: Session, rows: Sequence[CheckInRow]) -> list[Recorded]:
        return write_check_ins_postgresql(session, rows, held=held)

    return GroupCommit(write, on_batch=on_batch)


class HeldConnection:
    """A pooled connection in autocommit mode, kept by one batch writer between batches.

    A group commit writes one batch at a time, so one connection serves every batch of
    its process; keeping it saves the pool's checkout and return around each batch. It
    is given up when it fails (the next batch takes a fresh one; the failed batch raises
    :class:`OutcomeUnknown`) and when the engine changes.
    """

    def __init__(self) -> None:
        self._engine: Engine | None = None
        self._pooled: Any = None
        self._cursor: Any = None  # kept too: a cursor costs more to set up than to reuse

    def run(self, engine: Engine, params: dict[str, str]) -> list[Any]:
        """The batch statement's rows, written and durable when this returns."""
        if self._pooled is None or self._engine is not engine:
            self.release()
            pooled = engine.raw_connection()
            driver: Any = pooled.driver_connection  # psycopg's Connection
            driver.autocommit = True
            self._pooled, self._engine, self._cursor = pooled, engine, driver.cursor()
        pooled = self._pooled
        try:
            return _run_batch(self._cursor, params)
        except Exception as error:
            if pooled.driver_connection.closed or getattr(error, "sqlstate", None) is None:
                self._pooled = None
                pooled.invalidate(error)  # the connection itself failed: never reuse it
                # In autocommit mode a statement PostgreSQL answered with an error wrote
                # nothing; one whose answer never came may have been committed.
                raise OutcomeUnknown("the connection failed during a batch") from error
            raise

    def release(self) -> None:
        """Hand the connection back to its pool as the pool lent it."""
        pooled, self._pooled = self._pooled, None
        cursor, self._cursor = self._cursor, None
        if cursor is not None and not cursor.closed:
            cursor.close()
        if pooled is not None:
            pooled.driver_connection.autocommit = False
            pooled.close()


def write_check_ins_postgresql(
    session: Session, rows: Sequence[CheckInRow], *, held: HeldConnection | None = None
) -> list[Recorded]:
    """Write a batch of check-ins with one statement; an outcome per row.

    The statement runs in autocommit mode on ``held`` (or a connection borrowed for this
    batch): one round trip, no BEGIN or COMMIT of its own, durable when it returns. A
    session bound to a caller's connection (a transaction the caller owns) gets the
    writes in that transaction.
    """
    # A nonce twice in one batch: the statement cannot tell the two apart, so the later
    # one is answered as the replay it is without being sent.
    seen: set[tuple[str, str]] = set()
    sent: list[CheckInRow] = []
    repeated: set[int] = set()
    for index, row in enumerate(rows):
        if row.nonce is not None:
            pair = (row.nonce.key_id, row.nonce.nonce)
            if pair in seen:
                repeated.add(index)
                continue
            seen.add(pair)
        sent.append(row)
    params = {"rows": json.dumps([_batch_member(row) for row in sent], separators=(",", ":"))}
    bind = session.get_bind()
    if isinstance(bind, Engine):
        borrowed = held or HeldConnection()
        try:
            results = borrowed.run(bind, params)
        finally:
            if held is None:
                borrowed.release()
    else:  # the session is bound to a connection in a caller's transaction: join it
        driver: Any = session.connection().connection.driver_connection
        with driver.cursor() as cursor:
            results = _run_batch(cursor, params)
    outcomes = iter(
        Recorded(
            replayed=not accepted,
            activation=LiveActivation(id_, fingerprint, activated_at, seats, migration)
            if id_ is not None
            else None,
        )
        for accepted, id_, fingerprint, activated_at, seats, migration in results
    )
    return [
        Recorded(replayed=True) if index in repeated else next(outcomes)
        for index in range(len(rows))
    ]


def _batch_member(row: CheckInRow) -> dict[str, Any]:
    """One check-in as a member of the statement's jsonb array (bytea as hex)."""
    observed, nonce = row.observation, row.nonce
    return {
        "license_id": str(row.license_id),
        "activation_id": None if row.activation_id is None else str(row.activation_id),
        "fingerprint": row.fingerprint,
        "key_id": None if nonce is None else nonce.key_id,
        "nonce": None if nonce is None else nonce.nonce,
        "expires_at": None if nonce is None else nonce.expires_at.isoformat(),
        "now": row.now.isoformat(),
        "day": observed["p_day"].isoformat(),
        "observation_key": observed["p_observation_key"].hex(),
        "ip": observed["p_ip"],
        "ip_hash": _hex(observed["p_ip_hash"]),
        "ip_prefix": observed["p_ip_prefix"],
        "server_name": observed["p_server_name"],
        "server_name_hash": _hex(observed["p_server_name_hash"]),
        "product_version": observed["p_product_version"],
        "usage": observed["p_usage"],
        "jti": row.issued_jti,
        "presented": row.presented_jti,
    }


def _hex(value: bytes | None) -> str | None:
    return None if value is None else value.hex()


def _run_batch(cursor: Any, params: dict[str, str]) -> list[Any]:
    """Execute the batch statement on a DB-API cursor; its rows, in input order."""
    cursor.execute(BATCH_STATEMENT, params)
    return list(cursor.fetchall())
