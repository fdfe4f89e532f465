"""Database nonces whose replay window has passed are pruned, and only those."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import ReplayNonce
from licensing.services.nonces import prune_expired_nonces

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_prune_forgets_only_expired_nonces(session: Session) -> None:
    session.add_all(
        [
            ReplayNonce(key_id="k" * 22, nonce="old" * 8, expires_at=NOW - timedelta(seconds=1)),
            ReplayNonce(key_id="k" * 22, nonce="new" * 8, expires_at=NOW + timedelta(seconds=1)),
        ]
    )
    session.flush()

    assert prune_expired_nonces(session, now=NOW) == 1
    assert session.scalars(select(ReplayNonce.nonce)).all() == ["new" * 8]
