"""Periodic jobs: release dead activations, forget expired nonces, checkpoint the audit chain.

Each job is one conditional statement per step, so it is idempotent and safe to run
from cron on several hosts at once: a second runner finds nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from licensing.config import Settings
from licensing.crypto.sealing import Sealer
from licensing.models import Activation, ActivationStatus, Edition, License, ReleaseReason
from licensing.services import audit_checkpoints
from licensing.services.replay import prune_expired_nonces


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job may need besides the session and the clock."""

    settings: Settings
    sealer: Sealer


@dataclass(frozen=True, slots=True)
class JobResult:
    job: str
    affected: int


def cull_dead_activations(session: Session, *, now: datetime) -> int:
    """Release activations silent for longer than their edition's dead-after."""
    culled = 0
    editions = session.execute(
        select(Edition.id, Edition.check_in_interval_seconds, Edition.dead_after_intervals)
    ).all()
    for edition_id, interval_seconds, dead_after in editions:
        cutoff = now - timedelta(seconds=interval_seconds * dead_after)
        result = session.execute(
            update(Activation)
            .where(
                Activation.status == ActivationStatus.ACTIVE,
                Activation.last_check_in_at < cutoff,
                Activation.license_id.in_(
                    select(License.id).where(License.edition_id == edition_id)
                ),
            )
            .values(
                status=ActivationStatus.RELEASED,
                released_at=now,
                release_reason=ReleaseReason.CULLED,
            )
        )
        culled += int(result.rowcount)  # type: ignore[attr-defined]
    return culled


JOBS: dict[str, Callable[[Session, datetime, JobContext], int]] = {
    "cull-activations": lambda session, now, _: cull_dead_activations(session, now=now),
    "prune-nonces": lambda session, now, _: prune_expired_nonces(session, now=now),
    "audit-checkpoint": lambda session, now, context: audit_checkpoints.write_to_directory(
        session,
        context.sealer,
        context.settings.audit_checkpoint_dir,
        issuer=context.settings.issuer,
        now=now,
    ),
}


def run(
    session: Session, *, now: datetime, context: JobContext, only: str | None = None
) -> list[JobResult]:
    """Run every job (or one), each flushed in the caller's transaction."""
    names = [only] if only else list(JOBS)
    return [JobResult(name, JOBS[name](session, now, context)) for name in names]
