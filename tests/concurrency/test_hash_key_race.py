"""Workers making the first hash of a month at once end with one key for it: each inserts
"on conflict do nothing" in a transaction of its own, then reads what is stored.

Real parallel connections need committed rows, so this runs on a database of its own,
migrated here and dropped after (PostgreSQL only; on SQLite one writer at a time).
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import HASH_KEYS_TABLE, Sealer
from licensing.extensions import db
from licensing.models import HashKey
from licensing.runtime import EXTENSION_KEY
from licensing.services import hash_key_periods
from tests.concurrency.committed import committed_postgresql_app
from tests.databases import TEST_DATABASE_ENV

pytestmark = [
    pytest.mark.postgres_only,
    pytest.mark.skipif(
        not os.environ.get(TEST_DATABASE_ENV, "").strip(),
        reason=f"{TEST_DATABASE_ENV} is not set: no PostgreSQL server for parallel connections",
    ),
]

WORKERS = 6
IP = b"192.0.2.44"


@pytest.fixture(scope="module")
def committed_app(
    app_config: dict[str, Any], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    """An application on a fresh PostgreSQL database whose writes are really committed."""
    instance = tmp_path_factory.mktemp("hash-key-race")
    with committed_postgresql_app(app_config, instance, label="hash_key_race_") as app:
        yield app


def _race(app: Flask, work: Any) -> list[Any]:
    """``work(session)`` in ``WORKERS`` threads released at once; their results."""
    start = threading.Barrier(WORKERS)
    results: list[Any] = [None] * WORKERS

    def worker(index: int) -> None:
        with app.app_context(), Session(db.engine) as session:
            start.wait(5)
            results[index] = work(session)
            session.commit()

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(WORKERS)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(20)
    return results


def test_workers_storing_one_month_at_once_end_with_one_key(committed_app: Flask) -> None:
    sealer: Sealer = committed_app.extensions[EXTENSION_KEY].sealer
    candidates = [
        sealer.seal(os.urandom(32), table=HASH_KEYS_TABLE, row_id="ip/2033-04")
        for _ in range(WORKERS)
    ]
    turn = iter(range(WORKERS))

    def store(session: Session) -> tuple[bytes, bool]:
        return hash_key_periods.store_period_key(session, "ip", "2033-04", candidates[next(turn)])

    results = _race(committed_app, store)

    assert all(result is not None for result in results)
    assert len({sealed for sealed, _ in results}) == 1
    assert all(committed for _, committed in results)  # stored in a transaction of its own
    with committed_app.app_context(), Session(db.engine) as session:
        stored = session.scalars(
            select(HashKey.sealed_key).where(HashKey.purpose == "ip", HashKey.period == "2033-04")
        ).all()
    assert stored == [results[0][0]] and stored[0] in candidates


def test_sealers_hashing_the_first_value_of_a_month_at_once_agree(committed_app: Flask) -> None:
    master_key = committed_app.extensions[EXTENSION_KEY].settings.master_key

    def store(purpose: str, period: str, candidate: bytes) -> tuple[bytes, bool]:
        with committed_app.app_context(), Session(db.engine) as session:
            return hash_key_periods.store_period_key(session, purpose, period, candidate)

    sealers = iter([Sealer(master_key, period_keys=store) for _ in range(WORKERS)])

    def hashed(_session: Session) -> bytes:
        return next(sealers).period_keyed_hash("server-name", "2033-05", IP)

    results = _race(committed_app, hashed)

    assert None not in results and len(set(results)) == 1
