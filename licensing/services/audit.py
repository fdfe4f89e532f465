"""The audit log: append to a hash chain, and verify that the chain is unbroken."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from licensing.models import AuditEvent
from licensing.models.base import utcnow

GENESIS_HASH = "0" * 64
# Any constant works; it names the one advisory lock that serialises appends on PostgreSQL.
_CHAIN_LOCK = 0x6C6963656E7365


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    first_broken_seq: int | None
    problem: str | None

    @property
    def intact(self) -> bool:
        return self.first_broken_seq is None


def record(
    session: Session,
    *,
    actor: str,
    action: str,
    subject_type: str,
    subject_id: object,
    data: Mapping[str, Any] | None = None,
    now: datetime | None = None,
) -> AuditEvent:
    """Append one event; data must hold no secrets and no personal data beyond ids."""
    if session.get_bind().dialect.name == "postgresql":
        # Writers on SQLite already hold the database's write lock (BEGIN IMMEDIATE).
        session.execute(text("SELECT pg_advisory_xact_lock(:key)"), {"key": _CHAIN_LOCK})
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    seq, prev_hash = (last[0] + 1, last[1]) if last else (1, GENESIS_HASH)
    event = AuditEvent(
        seq=seq,
        occurred_at=(now or utcnow()).replace(microsecond=0),
        actor=actor,
        action=action,
        subject_type=subject_type,
        subject_id=str(subject_id),
        data=dict(data or {}),
        prev_hash=prev_hash,
    )
    event.hash = event_hash(event)
    session.add(event)
    session.flush()
    return event


def event_hash(event: AuditEvent) -> str:
    canonical = json.dumps(
        {
            "seq": event.seq,
            "occurred_at": event.occurred_at.isoformat(),
            "actor": event.actor,
            "action": event.action,
            "subject_type": event.subject_type,
            "subject_id": event.subject_id,
            "data": event.data,
            "prev_hash": event.prev_hash,
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
    )
    return hashlib.sha256(canonical.encode("ascii")).hexdigest()


def verify(session: Session, *, batch: int = 1000) -> ChainReport:
    """Walk the chain in order; report the first event whose links or hash do not hold."""
    expected_prev, expected_seq, count = GENESIS_HASH, 1, 0
    query = select(AuditEvent).order_by(AuditEvent.seq).execution_options(yield_per=batch)
    # yield_per streams from a server-side cursor on PostgreSQL: close it on an early return.
    with session.scalars(query) as stream:
        for event in stream:
            count += 1
            if event.seq != expected_seq:
                return ChainReport(count, expected_seq, f"event {expected_seq} is missing")
            if event.prev_hash != expected_prev:
                return ChainReport(
                    count, event.seq, f"event {event.seq} does not link to its predecessor"
                )
            if event_hash(event) != event.hash:
                return ChainReport(
                    count, event.seq, f"event {event.seq} was altered after it was written"
                )
            expected_prev, expected_seq = event.hash, expected_seq + 1
    return ChainReport(count, None, None)


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0
