"""Database nonces whose replay window has passed are pruned."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from licensing.services.replay import prune_expired_nonces
from licensing.storage.replay import DatabaseReplayStore

NOW = datetime(2026, 6, 1, tzinfo=UTC)


def test_database_nonces_expire_with_the_window(session: Session) -> None:
    store = DatabaseReplayStore(window_seconds=600)
    store.accept(session, "k" * 22, "n" * 22, now=NOW)

    assert prune_expired_nonces(session, now=NOW + timedelta(seconds=599)) == 0
    assert prune_expired_nonces(session, now=NOW + timedelta(seconds=601)) == 1
