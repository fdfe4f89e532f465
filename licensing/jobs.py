"""The registry of periodic jobs, each a service function run by its name.

The jobs release dead activations, forget expired nonces and checkpoint the audit chain.
This module only names them and runs them; their bodies are in the services. Every
job is one conditional statement per step, so it is idempotent and safe to run from
cron on several hosts at once: a second runner finds nothing left to do.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from licensing.config import Settings
from licensing.crypto.sealing import Sealer
from licensing.services import activations, audit_checkpoints
from licensing.services.nonces import prune_expired_nonces


@dataclass(frozen=True, slots=True)
class JobContext:
    """What a job may need besides the session and the clock."""

    settings: Settings
    sealer: Sealer


@dataclass(frozen=True, slots=True)
class JobResult:
    job: str
    affected: int


JOBS: dict[str, Callable[[Session, datetime, JobContext], int]] = {
    "cull-activations": lambda session, now, _: activations.cull_dead_activations(session, now=now),
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
