"""The replay store: a ``(key id, nonce)`` pair is accepted once per replay window.

Shared by every worker and host: the database by default (a unique key, so two
parallel requests cannot both insert), Redis when configured (``SET NX``).
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import delete
from sqlalchemy.orm import Session

from licensing.models import ReplayNonce
from licensing.services import statements


class ReplayStore(Protocol):
    def accept(self, session: Session, key_id: str, nonce: str, *, now: datetime) -> bool:
        """True the first time the pair is seen within the window, False after."""


class DatabaseReplayStore:
    """Nonces in the ``replay_nonces`` table, committed with the request's own writes."""

    def __init__(self, window_seconds: int) -> None:
        self._window = timedelta(seconds=window_seconds)

    def accept(self, session: Session, key_id: str, nonce: str, *, now: datetime) -> bool:
        connection = session.connection()
        inserted = connection.execute(
            statements.accept_nonce(connection.dialect.name),
            {"p_key_id": key_id, "p_nonce": nonce, "p_expires_at": now + self._window},
        ).first()
        return inserted is not None


class RedisReplayStore:
    """Nonces as Redis keys that expire with the window (``LICENSING_REDIS_URL``)."""

    def __init__(self, url: str, window_seconds: int) -> None:
        import redis

        self._redis = redis.Redis.from_url(url)
        self._window = window_seconds

    def accept(self, session: Session, key_id: str, nonce: str, *, now: datetime) -> bool:
        return bool(
            self._redis.set(f"licensing:nonce:{key_id}:{nonce}", b"1", nx=True, ex=self._window)
        )


def prune_expired_nonces(session: Session, *, now: datetime) -> int:
    """Delete database nonces whose window has passed; returns how many."""
    result = session.execute(delete(ReplayNonce).where(ReplayNonce.expires_at < now))
    return int(result.rowcount)  # type: ignore[attr-defined]
