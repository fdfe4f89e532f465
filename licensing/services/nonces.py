"""Replay nonces whose window has passed, pruned by a job (the stores: storage/replay.py)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import delete
from sqlalchemy.orm import Session

from licensing.models import ReplayNonce


def prune_expired_nonces(session: Session, *, now: datetime) -> int:
    """Delete database nonces whose window has passed; returns how many."""
    result = session.execute(delete(ReplayNonce).where(ReplayNonce.expires_at < now))
    return int(result.rowcount)  # type: ignore[attr-defined]
