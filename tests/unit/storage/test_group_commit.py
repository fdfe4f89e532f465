"""Group commit: concurrent rows share a batch, each thread gets its own outcome."""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Sequence
from typing import Any

import pytest

from licensing.storage.group_commit import GroupCommit, OutcomeUnknown


class FakeSession:
    def __init__(self) -> None:
        self.commits = 0
        self.rollbacks = 0

    def in_transaction(self) -> bool:
        return True  # as if the writer had joined the session's transaction

    def commit(self) -> None:
        self.commits += 1

    def rollback(self) -> None:
        self.rollbacks += 1


class Writer:
    """Doubles each row; the first batch waits until released; rows < 0 fail a batch."""

    def __init__(self, hold_first: bool = False) -> None:
        self.batches: list[list[int]] = []
        self.release = threading.Event()
        self.first_started = threading.Event()
        if not hold_first:
            self.release.set()

    def __call__(self, session: Any, rows: Sequence[int]) -> list[int]:
        self.batches.append(list(rows))
        if len(self.batches) == 1:
            self.first_started.set()
            assert self.release.wait(10)
        if any(row < 0 for row in rows):
            raise ValueError(f"bad row in {list(rows)}")
        return [row * 2 for row in rows]


def run_threads(group: GroupCommit[int, int], rows: list[int]) -> dict[Any, Any]:
    outcomes: dict[Any, Any] = {}

    def record(row: int) -> None:
        try:
            outcomes[row] = group.record(FakeSession(), row)  # type: ignore[arg-type]
        except Exception as error:
            outcomes[row] = error

    threads = [threading.Thread(target=record, args=(row,)) for row in rows]
    outcomes["threads"] = threads  # filled in as the threads finish
    for thread in threads:
        thread.start()
    return outcomes


def wait_until_queued(group: GroupCommit[int, int], count: int) -> None:
    deadline = time.monotonic() + 10
    while group._queue.qsize() < count:
        assert time.monotonic() < deadline, "threads did not queue"
        time.sleep(0.001)


def test_one_thread_writes_and_commits_a_batch_of_one() -> None:
    writer = Writer()
    session = FakeSession()
    group: GroupCommit[int, int] = GroupCommit(writer)

    assert group.record(session, 21) == 42  # type: ignore[arg-type]

    assert writer.batches == [[21]]
    assert (session.commits, session.rollbacks) == (1, 0)


def test_rows_queued_during_a_write_go_together_in_the_next_batch() -> None:
    writer = Writer(hold_first=True)
    sizes: list[int] = []
    group: GroupCommit[int, int] = GroupCommit(writer, on_batch=sizes.append)
    first = run_threads(group, [1])
    assert writer.first_started.wait(10)
    rest = run_threads(group, list(range(2, 10)))
    wait_until_queued(group, 8)

    writer.release.set()
    for thread in first["threads"] + rest["threads"]:
        thread.join(10)

    assert writer.batches[0] == [1]
    assert sorted(writer.batches[1]) == list(range(2, 10))
    assert len(writer.batches) == 2
    assert sizes == [1, 8]
    assert first[1] == 2
    assert {row: rest[row] for row in range(2, 10)} == {row: row * 2 for row in range(2, 10)}


def test_a_failing_batch_is_written_again_row_by_row_so_only_the_bad_row_fails() -> None:
    writer = Writer(hold_first=True)
    group: GroupCommit[int, int] = GroupCommit(writer)
    first = run_threads(group, [1])
    assert writer.first_started.wait(10)
    rest = run_threads(group, [2, -3, 4])
    wait_until_queued(group, 3)

    writer.release.set()
    for thread in first["threads"] + rest["threads"]:
        thread.join(10)

    assert (rest[2], rest[4]) == (4, 8)
    assert isinstance(rest[-3], ValueError)
    assert sorted(writer.batches[1]) == [-3, 2, 4]
    assert sorted(map(tuple, writer.batches[2:])) == [(-3,), (2,), (4,)]


def test_a_batch_of_unknown_outcome_fails_every_row_and_is_not_written_again() -> None:
    class LostAnswer(Writer):
        def __call__(self, session: Any, rows: Sequence[int]) -> list[int]:
            doubled = super().__call__(session, rows)
            if len(self.batches) > 1:  # committed, perhaps; the answer never came
                raise OutcomeUnknown("connection failed")
            return doubled

    writer = LostAnswer(hold_first=True)
    group: GroupCommit[int, int] = GroupCommit(writer)
    first = run_threads(group, [1])
    assert writer.first_started.wait(10)
    rest = run_threads(group, [2, 3, 4])
    wait_until_queued(group, 3)

    writer.release.set()
    for thread in first["threads"] + rest["threads"]:
        thread.join(10)

    assert first[1] == 2
    assert all(isinstance(rest[row], OutcomeUnknown) for row in (2, 3, 4))
    assert [sorted(batch) for batch in writer.batches] == [[1], [2, 3, 4]]


def test_an_error_reaches_the_caller_and_the_session_is_rolled_back() -> None:
    session = FakeSession()
    group: GroupCommit[int, int] = GroupCommit(Writer())

    with pytest.raises(ValueError, match="bad row"):
        group.record(session, -1)  # type: ignore[arg-type]

    assert (session.commits, session.rollbacks) == (0, 1)


def test_a_batch_holds_at_most_max_batch_rows_and_always_the_leaders_own() -> None:
    writer = Writer(hold_first=True)
    group: GroupCommit[int, int] = GroupCommit(writer, max_batch=3)
    first = run_threads(group, [1])
    assert writer.first_started.wait(10)
    rest = run_threads(group, list(range(2, 9)))
    wait_until_queued(group, 7)

    writer.release.set()
    for thread in first["threads"] + rest["threads"]:
        thread.join(10)

    assert all(len(batch) <= 4 for batch in writer.batches)  # 3, or 3 plus the leader's
    assert sorted(row for batch in writer.batches for row in batch) == list(range(1, 9))
    assert {row: rest[row] for row in range(2, 9)} == {row: row * 2 for row in range(2, 9)}


def test_many_threads_each_get_their_own_outcome_and_every_row_is_written_once() -> None:
    """Under contention each thread gets its own outcome; every row is written once."""
    written: list[int] = []

    def write(session: Any, rows: Sequence[int]) -> list[int]:
        written.extend(rows)
        time.sleep(random.random() / 2000)  # a write takes up to half a millisecond
        return [row * 2 for row in rows]

    group: GroupCommit[int, int] = GroupCommit(write, max_batch=5)
    answers: dict[int, int] = {}

    def record_many(first: int) -> None:
        for row in range(first, first + 150):
            answers[row] = group.record(FakeSession(), row)  # type: ignore[arg-type]

    threads = [threading.Thread(target=record_many, args=(n * 1000,)) for n in range(12)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)

    assert not any(thread.is_alive() for thread in threads), "a check-in was left waiting"
    expected = {n * 1000 + i: (n * 1000 + i) * 2 for n in range(12) for i in range(150)}
    assert answers == expected
    assert sorted(written) == sorted(expected)  # each row written exactly once
