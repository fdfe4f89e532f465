"""The registry of periodic jobs, each a service function run by its name.

The jobs release dead activations, forget expired nonces, prune misuse evidence past its
lookback, carry out the register's retention (except what legal holds keep), checkpoint
the audit chain, roll up the fleet's usage per day for the dashboard and run the misuse
scan.
This module only names them and runs them; their bodies are in the services. Every
job is one conditional statement per step, so it is idempotent and safe to run from
cron on several hosts at once: a second runner finds nothing left to do.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy.orm import Session

from licensing.config import Settings
from licensing.crypto.sealing import Sealer
from licensing.services import (
    activations,
    audit_checkpoints,
    misuse_evidence,
    misuse_scan,
    retention,
    usage_rollup,
)
from licensing.services.nonces import prune_expired_nonces


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job may need besides the session and the clock."""

    settings: Settings
    sealer: Sealer
    # Commits the work so far: a job that spans many transactions (the misuse scan)
    # calls it after each step, so a crash loses one step, not the whole run.
    checkpoint: Callable[[], None] = lambda: None


@dataclass(frozen=True, slots=True)
class JobResult:
    job: str
    affected: int


class _CommitEachChunk:
    def __init__(self, checkpoint: Callable[[], None]) -> None:
        self.checkpoint = checkpoint

    def started(self, plan: misuse_scan.ScanPlan) -> None:
        pass

    def chunk_done(self, outcome: misuse_scan.ChunkOutcome) -> None:
        self.checkpoint()


def _misuse_scan(session: Session, now: datetime, context: JobContext) -> int:
    """The licenses the misuse scan looked at (0 when another host's scan was running)."""
    context.checkpoint()  # the jobs before it release their locks before the long scan
    # Check-ins on this host get the CPU first; raised to the setting, never beyond it.
    os.nice(max(0, context.settings.misuse_scan_nice - os.nice(0)))
    summary = misuse_scan.run(
        session,
        session.get_bind().engine,
        now=now,
        thresholds=context.settings.misuse_thresholds,
        full_scan_every=timedelta(hours=context.settings.misuse_full_scan_hours),
        progress=_CommitEachChunk(context.checkpoint),
    )
    return summary.licenses if summary else 0


JOBS: dict[str, Callable[[Session, datetime, JobContext], int]] = {
    "cull-activations": lambda session, now, _: activations.cull_dead_activations(session, now=now),
    "prune-nonces": lambda session, now, _: prune_expired_nonces(session, now=now),
    "prune-misuse-evidence": lambda session, now, c: misuse_evidence.prune_stale_evidence(
        session, now=now, lookback=c.settings.misuse_thresholds.lookback, checkpoint=c.checkpoint
    ),
    # The register's retention, except what legal holds keep (docs/privacy.md); it
    # commits each batch itself, so check-ins wait for no long transaction.
    "privacy-enforce": lambda session, now, c: (
        retention.enforce(
            session,
            periods=c.settings.retention,
            as_of=now,
            dry_run=False,
            sealer=c.sealer,
            issuer=c.settings.issuer,
        ).total
    ),
    "audit-checkpoint": lambda session, now, context: audit_checkpoints.write_to_directory(
        session,
        context.sealer,
        context.settings.audit_checkpoint_dir,
        issuer=context.settings.issuer,
        now=now,
    ),
    # Before the scan: the scan commits it when it starts, so the dashboard's figures do
    # not wait for the longest job.
    "usage-rollup": lambda session, now, _: usage_rollup.roll_up_due(session, now=now),
    "misuse-scan": _misuse_scan,
}


def run(
    session: Session, *, now: datetime, context: JobContext, only: str | None = None
) -> list[JobResult]:
    """Run every job (or one), each flushed in the caller's transaction."""
    names = [only] if only else list(JOBS)
    return [JobResult(name, JOBS[name](session, now, context)) for name in names]
