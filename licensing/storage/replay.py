"""Replay stores: a ``(key id, nonce)`` pair is used up once per replay window.

Shared by every worker and host: the database by default (a unique key, so two
parallel requests cannot both insert), Redis when configured (``SET NX``). A database
nonce is written in the request's transaction, committed by the face around it (or by
the check-in batch statement that carries it); a Redis nonce is set at once.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import ClassVar, Protocol

from sqlalchemy import Connection
from sqlalchemy.orm import Session

from licensing.errors import ConfigError
from licensing.storage import statements


@dataclass(frozen=True, slots=True)
class NonceClaim:
    """A nonce to use up, with the end of its replay window."""

    key_id: str
    nonce: str
    expires_at: datetime


class ReplayStore(Protocol):
    #: Whether nonces live in the database, so a check-in's statement may carry its own.
    in_database: ClassVar[bool]

    def claim(self, key_id: str, nonce: str, *, now: datetime) -> NonceClaim:
        """The pair with the end of its window, not yet used up."""

    def use_up(self, session: Session, claim: NonceClaim) -> bool:
        """True the first time the pair is seen within the window, False after."""


class _WindowedStore:
    def __init__(self, window_seconds: int) -> None:
        self._seconds = window_seconds
        self._window = timedelta(seconds=window_seconds)

    def claim(self, key_id: str, nonce: str, *, now: datetime) -> NonceClaim:
        return NonceClaim(key_id, nonce, now + self._window)

    def use_up(self, session: Session, claim: NonceClaim) -> bool:
        raise NotImplementedError


class DatabaseReplayStore(_WindowedStore):
    """Nonces in the ``replay_nonces`` table, committed with the request's own writes."""

    in_database: ClassVar[bool] = True

    def use_up(self, session: Session, claim: NonceClaim) -> bool:
        return use_up_with(session.connection(), claim)


class RedisReplayStore(_WindowedStore):
    """Nonces as Redis keys that expire with the window (``LICENSING_REDIS_URL``)."""

    in_database: ClassVar[bool] = False

    def __init__(self, url: str, window_seconds: int) -> None:
        try:
            import redis
        except ModuleNotFoundError:
            raise ConfigError(
                "LICENSING_REDIS_URL needs the redis extra: pip install 'licensing[redis]'"
            ) from None

        super().__init__(window_seconds)
        self._redis = redis.Redis.from_url(url)

    def use_up(self, session: Session, claim: NonceClaim) -> bool:
        key = f"licensing:nonce:{claim.key_id}:{claim.nonce}"
        return bool(self._redis.set(key, b"1", nx=True, ex=self._seconds))


def use_up_with(connection: Connection, claim: NonceClaim) -> bool:
    """Insert the pair on ``connection`` unless present; True when it was inserted."""
    inserted = connection.execute(
        statements.accept_nonce(connection.dialect.name),
        {"p_key_id": claim.key_id, "p_nonce": claim.nonce, "p_expires_at": claim.expires_at},
    ).first()
    return inserted is not None
