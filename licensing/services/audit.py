"""The audit log: append to a hash chain, verify that the chain is unbroken, list events."""

from __future__ import annotations

import contextlib
import hashlib
import json
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import func, select, text
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent
from licensing.services import audit_anchors
from licensing.timeutil import utcnow

GENESIS_HASH = "0" * 64
# Any constant works; it names the one advisory lock that serialises appends on PostgreSQL.
_CHAIN_LOCK = 0x6C6963656E7365


@dataclass(frozen=True, slots=True)
class ChainHead:
    """The newest event of the chain: what a checkpoint vouches for (seq 0: empty chain)."""

    seq: int
    hash: str
    events: int


@dataclass(frozen=True, slots=True)
class ChainReport:
    events: int
    first_broken_seq: int | None
    problem: str | None
    checkpoint_seq: int | None = None
    # Events 1..pruned_through were pruned by retention (on pruned_at), behind an anchor.
    pruned_through: int | None = None
    pruned_at: datetime | None = None
    # What the verification could not check, or checked only so far: never a break.
    notes: tuple[str, ...] = ()

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
    last_seq, prev_hash = _last_link(session)
    seq = last_seq + 1
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


def verify(
    session: Session,
    *,
    batch: int = 1000,
    checkpoint: ChainHead | None = None,
    since: ChainHead | None = None,
    trusted: Mapping[str, bytes] | None = None,
    sealer: Sealer | None = None,
    now: datetime | None = None,
) -> ChainReport:
    """Walk the chain in order; report the first event whose links or hash do not hold.

    With a ``checkpoint`` (a head recorded earlier), the chain must also still reach that
    head with the same hash: the links alone cannot show that the newest events were cut.
    With ``since`` (a head verified earlier, such as the previous checkpoint), the walk
    starts there instead of at the first event: that head must still be in the chain,
    unchanged, and link to what follows.

    Once retention pruned the oldest events, the walk starts at the newest prune anchor:
    its signature must hold, by one of the ``trusted`` keys (kid -> raw public key, from
    a saved JWK Set) when given, else by a server key whose private key opens under
    ``sealer``; what it pruned must have been past the audit period (services/
    audit_anchors.py); and the first event left must link to its hash.
    """
    expected_prev: str | None = GENESIS_HASH
    expected_seq, count = 1, 0
    covered = checkpoint.seq if checkpoint else None
    heads = [mark for mark in (since, checkpoint) if mark is not None]
    query = select(AuditEvent).order_by(AuditEvent.seq)
    anchor = audit_anchors.newest(session)
    pruned_through = anchor.seq if anchor is not None else None
    pruned_at = anchor.pruned_at if anchor is not None else None
    notes: list[str] = []

    def report(seq: int | None = None, problem: str | None = None) -> ChainReport:
        return ChainReport(count, seq, problem, covered, pruned_through, pruned_at, tuple(notes))

    def broken(seq: int, problem: str) -> ChainReport:
        return report(seq, problem)

    if anchor is not None:
        # The chain begins after the anchor; the anchor itself must be the server's.
        checked = audit_anchors.check(session, anchor, trusted=trusted, sealer=sealer, now=now)
        if checked.problem is not None:
            return broken(anchor.seq, checked.problem)
        if checked.note is not None:
            notes.append(checked.note)
        if any(mark.seq == anchor.seq and mark.hash != anchor.hash for mark in heads):
            return broken(anchor.seq, f"event {anchor.seq} differs from the prune anchor")
        if checkpoint is not None and checkpoint.seq < anchor.seq:
            # Its event is gone: the anchor, not the checkpoint, vouches for that prefix.
            notes.append(
                f"checkpoint {checkpoint.seq} is behind the prune anchor {anchor.seq}: "
                "it cannot be checked"
            )
        expected_prev, expected_seq = anchor.hash, anchor.seq + 1
        # A run interrupted while pruning leaves events up to the anchor: not walked.
        query = query.where(AuditEvent.seq > anchor.seq)
        heads = [mark for mark in heads if mark.seq > anchor.seq]
    if since is not None and since.seq > 0 and since.seq >= expected_seq:
        # Its own link was verified with it; its hash stands for everything before it.
        expected_prev, expected_seq = None, since.seq
        query = query.where(AuditEvent.seq >= since.seq)

    query = query.execution_options(yield_per=batch)
    # yield_per streams from a server-side cursor on PostgreSQL: close it on an early return.
    with session.scalars(query) as stream:
        for event in stream:
            count += 1
            problem = _event_problem(event, expected_seq, expected_prev, heads)
            if problem is not None:
                return broken(min(event.seq, expected_seq), problem)
            expected_prev, expected_seq = event.hash, expected_seq + 1
    reaches = max((mark.seq for mark in heads), default=0)
    if reaches >= expected_seq:
        missing = (
            f"event {expected_seq} is missing"
            if reaches == expected_seq
            else f"events {expected_seq} to {reaches} are missing"
        )
        return broken(expected_seq, f"{missing}: the checkpoint covers {reaches}")
    return report()


def _event_problem(
    event: AuditEvent, seq: int, prev_hash: str | None, heads: Sequence[ChainHead]
) -> str | None:
    """What is wrong with the event expected at ``seq`` (``prev_hash`` None: not checked)."""
    if event.seq != seq:
        return f"event {seq} is missing"
    if prev_hash is not None and event.prev_hash != prev_hash:
        return f"event {event.seq} does not link to its predecessor"
    if event_hash(event) != event.hash:
        return f"event {event.seq} was altered after it was written"
    if any(mark.seq == event.seq and mark.hash != event.hash for mark in heads):
        # The links hold, so the chain up to here was rewritten, not merely edited.
        return f"event {event.seq} differs from the checkpoint: chain rewritten"
    return None


def count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


def head(session: Session) -> ChainHead:
    """The newest event's seq and hash, and how many events there are."""
    seq, digest = _last_link(session)
    return ChainHead(seq=seq, hash=digest, events=count(session) if seq else 0)


def _last_link(session: Session) -> tuple[int, str]:
    """What the next event links to: the newest event (retention never prunes it)."""
    last = session.execute(
        select(AuditEvent.seq, AuditEvent.hash).order_by(AuditEvent.seq.desc()).limit(1)
    ).first()
    return (int(last[0]), str(last[1])) if last is not None else (0, GENESIS_HASH)


def list_events(
    session: Session,
    *,
    since: datetime | None = None,
    actor: str | None = None,
    subject: str | None = None,
    action: str | None = None,
    before_seq: int | None = None,
    limit: int = 100,
) -> Sequence[AuditEvent]:
    """Events newest first; ``subject`` is a subject id or ``type:id``.

    ``before_seq`` pages back through the log (events older than that seq): stable while
    new events are appended, unlike an offset.
    """
    query = select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(limit)
    if before_seq is not None:
        query = query.where(AuditEvent.seq < before_seq)
    if action is not None:
        query = query.where(AuditEvent.action == action)
    if since is not None:
        query = query.where(AuditEvent.occurred_at >= since)
    if actor is not None:
        query = query.where(AuditEvent.actor == actor)
    if subject is not None:
        subject_type, colon, subject_id = subject.partition(":")
        if not colon:
            subject_id = subject
        query = query.where(AuditEvent.subject_id.in_(_spellings(subject_id)))
        if colon:
            query = query.where(AuditEvent.subject_type == subject_type)
    return session.scalars(query).all()


def _spellings(subject_id: str) -> set[str]:
    """The id as given, and as recorded if it is a UUID (``str(uuid)``, lower case)."""
    spellings = {subject_id}
    with contextlib.suppress(ValueError):
        spellings.add(str(uuid.UUID(subject_id)))
    return spellings
