"""Group commit: the check-ins of one process's threads, written and committed together.

A durable commit costs a WAL flush and a round trip; paying it once per check-in is what
limits a busy server (DESIGN.md, "Scale"). Here the first thread to arrive while no
write is in progress becomes the *leader*: it takes every check-in queued so far, its
own included, has the batch writer write them all at once (for check-ins: one statement
in autocommit mode, see checkin_batches.write_check_ins_postgresql), commits its own session
(for a writer that joined it), and hands each waiting thread its outcome. Threads that
arrive meanwhile queue for the next batch. Nothing is acknowledged before the commit that
holds it, and there is no extra thread: a single-threaded worker writes batches of one.

If a batch fails, its check-ins are written again one by one, so that one bad check-in
fails alone; unless the writer raises :class:`OutcomeUnknown`: then the batch may have
been committed, and writing it again would find each check-in's nonce used, by itself.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

Row = TypeVar("Row")
Outcome = TypeVar("Outcome")

#: Writes rows on the session's connection (no commit) and returns one outcome per row.
BatchWriter = Callable[[Session, Sequence[Row]], Sequence[Outcome]]


class OutcomeUnknown(Exception):
    """The batch writer cannot tell whether its batch was committed: never write it again.

    Raised when the connection fails while the batch is on its way: the commit may have
    happened before the answer was lost. Every row of the batch fails with this error,
    and its sender retries with a new request.
    """


@dataclass(slots=True, eq=False)
class _Pending(Generic[Row, Outcome]):
    row: Row
    outcome: Outcome | None = None
    error: BaseException | None = None
    done: bool = False

    def result(self) -> Outcome:
        if self.error is not None:
            raise self.error
        assert self.done, "a pending check-in was left without an outcome"
        return self.outcome  # type: ignore[return-value]


class GroupCommit(Generic[Row, Outcome]):
    """Batches rows from concurrent threads; see the module's docstring."""

    def __init__(
        self,
        write: BatchWriter[Row, Outcome],
        *,
        max_batch: int = 256,
        on_batch: Callable[[int], None] | None = None,
    ) -> None:
        self._write = write
        self._on_batch = on_batch
        self._max_batch = max_batch
        self._condition = threading.Condition()
        self._queue: list[_Pending[Row, Outcome]] = []
        self._writing = False

    def record(self, session: Session, row: Row) -> Outcome:
        """Write ``row`` durably (committed when this returns) and return its outcome."""
        pending: _Pending[Row, Outcome] = _Pending(row)
        with self._condition:
            self._queue.append(pending)
            while self._writing and not pending.done:
                self._condition.wait()
            if pending.done:
                return pending.result()
            batch = self._queue[: self._max_batch]
            del self._queue[: self._max_batch]
            if not any(p is pending for p in batch):  # more than max_batch were queued
                batch.append(pending)
                self._queue = [p for p in self._queue if p is not pending]
            self._writing = True
        if self._on_batch is not None:
            self._on_batch(len(batch))
        try:
            self._commit(session, batch)
        finally:
            with self._condition:
                self._writing = False
                self._condition.notify_all()
        return pending.result()

    def _commit(self, session: Session, batch: list[_Pending[Row, Outcome]]) -> None:
        try:
            outcomes = self._write(session, [p.row for p in batch])
            if session.in_transaction():  # a writer that joined the session's transaction
                session.commit()
        except OutcomeUnknown as error:
            session.rollback()
            for pending in batch:
                self._settle(pending, error=error)
            return
        except Exception as error:
            session.rollback()
            if len(batch) == 1:
                self._settle(batch[0], error=error)
                return
            for pending in batch:
                self._commit(session, [pending])
            return
        for pending, outcome in zip(batch, outcomes, strict=True):
            self._settle(pending, outcome=outcome)

    def _settle(
        self,
        pending: _Pending[Row, Outcome],
        *,
        outcome: Outcome | None = None,
        error: BaseException | None = None,
    ) -> None:
        with self._condition:
            pending.outcome, pending.error, pending.done = outcome, error, True
