"""Group commit: the check-ins of one process's threads, written and committed together.

A durable commit costs a WAL flush and a round trip; paying it once per check-in is what
limits a busy server (DESIGN.md, "Scale"). Here the first thread to arrive while no
write is in progress becomes the *leader*: it takes every check-in queued so far, its
own included, has the batch writer write them all at once (for check-ins: one statement
in autocommit mode, see check_in_batches.write_check_ins_postgresql), commits its own session
(for a writer that joined it), and hands each waiting thread its outcome. Threads that
arrive meanwhile queue for the next batch; when a batch is done, its leader hands the
lead to the first of them. Nothing is acknowledged before the commit that holds it, and
there is no extra thread: a single-threaded worker writes batches of one.

No Python lock is taken: the queue, the right to write (the *baton*) and each thread's
answer are ``queue.SimpleQueue`` objects, whose put and get are atomic in C. A leader
gives the baton back before it looks at the queue once more, so a check-in queued while
it was writing is never left without a leader.

If a batch fails, its check-ins are written again one by one, so that one bad check-in
fails alone; unless the writer raises :class:`OutcomeUnknown`: then the batch may have
been committed, and writing it again would find each check-in's nonce used, by itself.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue
from typing import Generic, TypeVar

from sqlalchemy.orm import Session

Row = TypeVar("Row")
Outcome = TypeVar("Outcome")

#: Writes rows on the session's connection (no commit) and returns one outcome per row.
BatchWriter = Callable[[Session, Sequence[Row]], Sequence[Outcome]]

#: What a waiting thread is told: its check-in is settled, or it leads the next batch.
_SETTLED, _LEAD = "settled", "lead"


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
    signal: SimpleQueue[str] = field(default_factory=SimpleQueue)

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
        self._queue: SimpleQueue[_Pending[Row, Outcome]] = SimpleQueue()
        self._baton: SimpleQueue[None] = SimpleQueue()
        self._baton.put(None)

    def record(self, session: Session, row: Row) -> Outcome:
        """Write ``row`` durably (committed when this returns) and return its outcome."""
        pending: _Pending[Row, Outcome] = _Pending(row)
        self._queue.put(pending)
        taken: list[_Pending[Row, Outcome]] = []
        if not self._take_baton():
            if pending.signal.get() == _SETTLED:
                return pending.result()
            taken.append(pending)  # handed the lead, already out of the queue
        try:
            while not pending.done:  # rows queued ahead may fill a batch before ours
                batch = taken + self._take_queued(self._max_batch - len(taken))
                taken = []
                self._lead(session, batch)
        finally:
            self._pass_baton()
        return pending.result()

    def _take_baton(self) -> bool:
        try:
            self._baton.get_nowait()
        except Empty:
            return False
        return True

    def _take_queued(self, limit: int) -> list[_Pending[Row, Outcome]]:
        batch: list[_Pending[Row, Outcome]] = []
        while len(batch) < limit:
            try:
                batch.append(self._queue.get_nowait())
            except Empty:
                break
        return batch

    def _pass_baton(self) -> None:
        """Give the baton back; if check-ins are still queued, hand the lead to the first."""
        self._baton.put(None)
        # A thread that queued while we wrote and then found no baton waits for a signal;
        # looking at the queue only after giving the baton back means it always gets one.
        while not self._queue.empty() and self._take_baton():
            try:
                first = self._queue.get_nowait()
            except Empty:  # taken by a leader between our two looks
                self._baton.put(None)
                continue
            first.signal.put(_LEAD)
            return

    def _lead(self, session: Session, batch: list[_Pending[Row, Outcome]]) -> None:
        if self._on_batch is not None:
            self._on_batch(len(batch))
        try:
            self._commit(session, batch)
        except BaseException as error:  # e.g. the worker is stopped: never leave one waiting
            for pending in batch:
                if not pending.done:
                    self._settle(pending, error=error)
            raise

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

    @staticmethod
    def _settle(
        pending: _Pending[Row, Outcome],
        *,
        outcome: Outcome | None = None,
        error: BaseException | None = None,
    ) -> None:
        pending.outcome, pending.error, pending.done = outcome, error, True
        pending.signal.put(_SETTLED)
