"""The replay stores use a (key id, nonce) pair up once: in the database and in Redis."""

from __future__ import annotations

import os
import secrets
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy.orm import Session

from licensing.storage.replay import DatabaseReplayStore, RedisReplayStore

NOW = datetime(2026, 6, 1, tzinfo=UTC)
REDIS_URL = os.environ.get("LICENSING_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")


def test_database_store_accepts_a_pair_once(session: Session) -> None:
    store = DatabaseReplayStore(window_seconds=600)
    nonce = secrets.token_urlsafe(16)

    assert store.use_up(session, store.claim("key-a" * 4 + "xx", nonce, now=NOW)) is True
    assert store.use_up(session, store.claim("key-a" * 4 + "xx", nonce, now=NOW)) is False
    # The same nonce under another key id is another pair.
    assert store.use_up(session, store.claim("key-b" * 4 + "xx", nonce, now=NOW)) is True


def test_a_claim_is_used_up_once_and_ends_with_the_window(session: Session) -> None:
    store = DatabaseReplayStore(window_seconds=600)
    claim = store.claim("k" * 22, secrets.token_urlsafe(16), now=NOW)

    assert claim.expires_at == NOW + timedelta(seconds=600)
    assert store.use_up(session, claim) is True
    assert store.use_up(session, claim) is False


@pytest.fixture
def redis_store() -> RedisReplayStore:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL).ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise  # CI has Redis: a missing server is a failure, not a skip
        pytest.skip(f"no Redis at {REDIS_URL}")
    return RedisReplayStore(REDIS_URL, window_seconds=1)


def test_redis_store_accepts_a_pair_once_and_forgets_it_after_the_window(
    session: Session, redis_store: RedisReplayStore
) -> None:
    import time

    nonce = secrets.token_urlsafe(16)
    assert redis_store.use_up(session, redis_store.claim("k" * 22, nonce, now=NOW)) is True
    assert redis_store.use_up(session, redis_store.claim("k" * 22, nonce, now=NOW)) is False
    time.sleep(1.1)
    assert redis_store.use_up(session, redis_store.claim("k" * 22, nonce, now=NOW)) is True
