"""Two misuse scans at once on PostgreSQL: one holds the advisory lock, the other reports
it and does nothing, or waits for it with ``--wait``. SQLite takes no such lock: two scans
there both run, each chunk's findings applied under the write lock
(test_misuse_scan_sqlite.py shows they leave the cases of one scan).

The lock is held on connections of its own, so these tests take it on real parallel
connections of the test database (the test's own transaction is not involved).
"""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from licensing.extensions import db
from licensing.misuse.thresholds import Thresholds
from licensing.services import misuse_scan
from licensing.storage import advisory_lock
from tests.unit.services.misuse_rows import NOW
from tests.unit.services.test_misuse_scan import Recorder

postgresql = pytest.mark.postgres_only


def _on_postgresql() -> bool:
    return db.engine.dialect.name == "postgresql"


def _scan(session: Session, *, wait: bool = False) -> misuse_scan.ScanSummary | None:
    return misuse_scan.run(
        session,
        db.engine,
        now=NOW,
        thresholds=Thresholds(),
        full_scan_every=timedelta(hours=24),
        progress=Recorder(),
        wait=wait,
    )


@postgresql
def test_a_scan_while_another_holds_the_lock_does_nothing(app: Flask, session: Session) -> None:
    if not _on_postgresql():
        pytest.skip("the advisory lock is PostgreSQL's; see test_misuse_scan_sqlite.py")
    with advisory_lock.held(db.engine, "misuse-scan", wait=False) as first:
        assert first
        assert _scan(session) is None
        with advisory_lock.held(db.engine, "misuse-scan", wait=False) as second:
            assert not second
    assert _scan(session) is not None  # released with the block


@postgresql
def test_of_two_scans_started_together_exactly_one_runs(app: Flask) -> None:
    if not _on_postgresql():
        pytest.skip("the advisory lock is PostgreSQL's; see test_misuse_scan_sqlite.py")
    engine = db.engine  # the threads have no application context
    barrier = threading.Barrier(2)
    release = threading.Event()
    taken: list[bool] = []

    def contender() -> None:
        barrier.wait()
        with advisory_lock.held(engine, "misuse-scan", wait=False) as mine:
            taken.append(mine)
            if mine:
                release.wait(5)

    threads = [threading.Thread(target=contender) for _ in range(2)]
    for thread in threads:
        thread.start()
    deadline = time.monotonic() + 5
    while len(taken) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    release.set()
    for thread in threads:
        thread.join(5)

    assert sorted(taken) == [False, True]


@postgresql
def test_wait_blocks_until_the_running_scan_is_done(app: Flask, session: Session) -> None:
    if not _on_postgresql():
        pytest.skip("the advisory lock is PostgreSQL's; see test_misuse_scan_sqlite.py")
    engine = db.engine  # the thread has no application context
    holding = threading.Event()

    def running_scan() -> None:
        with advisory_lock.held(engine, "misuse-scan", wait=False) as mine:
            assert mine
            holding.set()
            time.sleep(0.5)

    other = threading.Thread(target=running_scan)
    other.start()
    assert holding.wait(5)
    started = time.monotonic()
    summary = _scan(session, wait=True)
    waited = time.monotonic() - started
    other.join(5)

    assert summary is not None
    assert waited >= 0.3


def test_the_lock_key_is_stable_and_fits_a_bigint() -> None:
    key = advisory_lock.lock_key("misuse-scan")
    assert key == advisory_lock.lock_key("misuse-scan")
    assert -(2**63) <= key < 2**63
    assert key != advisory_lock.lock_key("something-else")
