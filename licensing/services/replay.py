"""The replay store: a ``(key id, nonce)`` pair is accepted once per replay window.

Shared by every worker and host: the database by default (a unique key, so two
parallel requests cannot both insert), Redis when configured (``SET NX``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

from sqlalchemy import Connection, delete
from sqlalchemy.orm import Session

from licensing.errors import ConfigError, LicensingError
from licensing.models import ReplayNonce
from licensing.services import statements


@dataclass(frozen=True, slots=True)
class NonceClaim:
    """A nonce to use up, with the end of its replay window."""

    key_id: str
    nonce: str
    expires_at: datetime


class NonceReplayed(LicensingError):
    """The ``(key id, nonce)`` pair was already accepted within the window."""

    status = 401
    code = "NONCE_REPLAYED"
    title = "Request signature rejected"

    def __init__(self) -> None:
        super().__init__("this nonce was already used with this key")


class ReplayStore(Protocol):
    def accept(self, session: Session, key_id: str, nonce: str, *, now: datetime) -> bool:
        """True the first time the pair is seen within the window, False after."""


class DatabaseReplayStore:
    """Nonces in the ``replay_nonces`` table, committed with the request's own writes."""

    def __init__(self, window_seconds: int) -> None:
        self._window = timedelta(seconds=window_seconds)

    def accept(self, session: Session, key_id: str, nonce: str, *, now: datetime) -> bool:
        return self.accept_with(session.connection(), NonceClaim(key_id, nonce, now + self._window))

    def claim(self, key_id: str, nonce: str, *, now: datetime) -> NonceClaim:
        """The pair as the check-in statement uses it up (see checkins.record_check_in)."""
        return NonceClaim(key_id, nonce, now + self._window)

    @staticmethod
    def accept_with(connection: Connection, claim: NonceClaim) -> bool:
        inserted = connection.execute(
            statements.accept_nonce(connection.dialect.name),
            {"p_key_id": claim.key_id, "p_nonce": claim.nonce, "p_expires_at": claim.expires_at},
        ).first()
        return inserted is not None


class RedisReplayStore:
    """Nonces as Redis keys that expire with the window (``LICENSING_REDIS_URL``)."""

    def __init__(self, url: str, window_seconds: int) -> None:
        try:
            import redis
        except ModuleNotFoundError:
            raise ConfigError(
                "LICENSING_REDIS_URL needs the redis extra: pip install 'licensing[redis]'"
            ) from None

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
