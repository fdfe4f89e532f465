"""Misuse evidence past its use: lease presentations and signature-failure tallies.

The misuse scan reads both only within the lookback (services/misuse_history.py); rows
older than twice the lookback can no longer change a finding, so a job prunes them
(``prune-misuse-evidence``). The margin keeps a scan that runs late, or a lookback
lengthened for a backtest, from finding its window already emptied.

Deleted in batches, each committed by the job's checkpoint, so pruning a large backlog
never holds one long transaction over the tables the check-ins write. Evidence of a
license under a legal hold in force is kept, however old, until the hold is released
(services/legal_hold_scope.py): a hold keeps the license's misuse evidence for a claim.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta

from sqlalchemy import Delete, delete, select, tuple_
from sqlalchemy.orm import Session

from licensing.models import LeasePresentation, License, SignatureFailure
from licensing.services.legal_hold_scope import held_license_ids

RETENTION_LOOKBACKS = 2  # evidence is kept for this many lookbacks
BATCH_ROWS = 5000


def retention_cutoff(now: datetime, lookback: timedelta) -> datetime:
    """Evidence from before this instant is pruned."""
    return now - RETENTION_LOOKBACKS * lookback


def prune_stale_evidence(
    session: Session,
    *,
    now: datetime,
    lookback: timedelta,
    checkpoint: Callable[[], None] = lambda: None,
    batch: int = BATCH_ROWS,
) -> int:
    """Delete lease presentations and signature-failure tallies older than the cutoff,
    but those of licenses under a legal hold in force.

    Returns how many rows went; ``checkpoint`` is called after each batch (the job's
    commit). A second runner at once finds nothing left, or deletes a batch twice over
    no rows: either way nothing kept is lost.
    """
    cutoff = retention_cutoff(now, lookback)
    return _prune_presentations(session, cutoff, checkpoint, batch) + _prune_failures(
        session, cutoff, checkpoint, batch
    )


def _prune_presentations(
    session: Session, cutoff: datetime, checkpoint: Callable[[], None], batch: int
) -> int:
    p = LeasePresentation
    # In id order: ids grow with time, so the old rows are the first ones the key reads.
    stale = (
        select(p.id)
        .where(p.at < cutoff, p.license_id.not_in(held_license_ids()))
        .order_by(p.id)
        .limit(batch)
    )
    return _in_batches(session, delete(p).where(p.id.in_(stale)), checkpoint, batch)


def _prune_failures(
    session: Session, cutoff: datetime, checkpoint: Callable[[], None], batch: int
) -> int:
    f = SignatureFailure
    key = tuple_(f.key_id, f.bucket_start)
    # Tallies are kept by key id (an unknown key's too): a held license's are its key's.
    held_keys = select(License.key_id).where(License.id.in_(held_license_ids()))
    stale = (
        select(f.key_id, f.bucket_start)
        .where(f.bucket_start < cutoff, f.key_id.not_in(held_keys))
        .limit(batch)
    )
    return _in_batches(session, delete(f).where(key.in_(stale)), checkpoint, batch)


def _in_batches(
    session: Session, statement: Delete, checkpoint: Callable[[], None], batch: int
) -> int:
    removed = 0
    while True:
        deleted = int(session.execute(statement).rowcount)  # type: ignore[attr-defined]
        removed += deleted
        checkpoint()
        if deleted < batch:
            return removed
