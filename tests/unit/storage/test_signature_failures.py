"""The invalid-signature tally: five-minute buckets, batched upserts, a flush that fails.

Flushes on the tally's own connection write to the migrated test database outside any
test transaction, so each test counts under key ids of its own and deletes them.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import Engine, create_engine, delete, select
from sqlalchemy.exc import SQLAlchemyError

from licensing.extensions import db
from licensing.models import SignatureFailure
from licensing.storage.signature_failures import SignatureFailureTally, bucket_start

NOW = datetime(2026, 11, 25, 12, 7, 31, tzinfo=UTC)
BUCKET = datetime(2026, 11, 25, 12, 5, tzinfo=UTC)


@pytest.fixture
def engine(migrated_app: Flask) -> Engine:
    with migrated_app.app_context():
        return db.engine


@pytest.fixture
def key_ids(engine: Engine) -> Iterator[list[str]]:
    made: list[str] = []
    yield made
    with engine.begin() as connection:
        connection.execute(delete(SignatureFailure).where(SignatureFailure.key_id.in_(made)))


def key_id(made: list[str]) -> str:
    made.append(secrets.token_urlsafe(16)[:22])
    return made[-1]


def stored(engine: Engine, key: str) -> list[tuple[datetime, int]]:
    with engine.connect() as connection:
        rows = connection.execute(
            select(SignatureFailure.bucket_start, SignatureFailure.count)
            .where(SignatureFailure.key_id == key)
            .order_by(SignatureFailure.bucket_start)
        ).all()
    return [(bucket, count) for bucket, count in rows]


def test_buckets_are_five_minutes_from_the_hour() -> None:
    assert bucket_start(NOW) == BUCKET
    assert bucket_start(BUCKET) == BUCKET
    assert bucket_start(BUCKET - timedelta(microseconds=1)) == BUCKET - timedelta(minutes=5)
    assert bucket_start(BUCKET + timedelta(minutes=4, seconds=59)) == BUCKET


def test_failures_add_up_per_key_and_bucket_and_flushes_add_to_the_stored_count(
    engine: Engine, key_ids: list[str]
) -> None:
    tally = SignatureFailureTally(interval=0)
    tally.attach(engine)
    first, second = key_id(key_ids), key_id(key_ids)
    for moment in (NOW, NOW + timedelta(seconds=5), NOW + timedelta(minutes=3)):
        tally.count(first, moment)
    tally.count(second, NOW)

    assert tally.pending() == {
        (first, BUCKET): 2,
        (first, BUCKET + timedelta(minutes=5)): 1,
        (second, BUCKET): 1,
    }
    assert tally.flush() == 3
    assert tally.pending() == {}
    assert tally.flush() == 0  # nothing held: no statement at all

    tally.count(first, NOW)
    tally.flush()
    assert stored(engine, first) == [(BUCKET, 3), (BUCKET + timedelta(minutes=5), 1)]
    assert stored(engine, second) == [(BUCKET, 1)]


def test_two_processes_add_up_in_the_same_row(engine: Engine, key_ids: list[str]) -> None:
    key = key_id(key_ids)
    workers = [SignatureFailureTally(interval=0) for _ in range(2)]
    for worker in workers:
        worker.attach(engine)
        worker.count(key, NOW)
        worker.flush()
    assert stored(engine, key) == [(BUCKET, 2)]


def test_a_flush_that_fails_keeps_its_counts_for_the_next(
    engine: Engine, key_ids: list[str]
) -> None:
    key = key_id(key_ids)
    tally = SignatureFailureTally(interval=0)
    broken = create_engine("sqlite:///file:absent?mode=ro&uri=true")
    tally.attach(broken)
    tally.count(key, NOW)

    with pytest.raises(SQLAlchemyError):
        tally.flush()
    assert tally.pending() == {(key, BUCKET): 1}

    tally.count(key, NOW)
    tally.attach(engine)
    tally.flush()
    assert stored(engine, key) == [(BUCKET, 2)]
    broken.dispose()


def test_without_a_database_nothing_is_lost() -> None:
    tally = SignatureFailureTally(interval=0)
    tally.count("some-key-id", NOW)
    with pytest.raises(RuntimeError):
        tally.flush()
    assert tally.pending() == {("some-key-id", BUCKET): 1}


def test_the_daemon_thread_flushes_on_its_own(engine: Engine, key_ids: list[str]) -> None:
    key = key_id(key_ids)
    tally = SignatureFailureTally(interval=0.05)
    tally.attach(engine)
    try:
        tally.count(key, NOW)
        deadline = time.monotonic() + 10
        while not stored(engine, key) and time.monotonic() < deadline:
            time.sleep(0.05)
        assert stored(engine, key) == [(BUCKET, 1)]
        assert tally.pending() == {}
    finally:
        tally.close()


def test_no_thread_is_started_when_the_interval_is_zero() -> None:
    tally = SignatureFailureTally(interval=0)
    tally.count("some-key-id", NOW)
    assert tally._flusher_pid is None
