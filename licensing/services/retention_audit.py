"""Audit events past the audit period: pruned only as a prefix, behind a signed anchor.

The chain can lose its oldest events without losing its proof: events 1..N go once the
head of that prefix (seq N, its hash, the count) is recorded as an anchor signed by the
server (services/audit_checkpoints.sign_prune_anchor), and verification starts there
(services/audit.verify). The prefix ends before the first event still inside the period,
or about a license or customer a legal hold keeps: nothing after it goes either, since a
hole in the chain could not be told from a removal. The newest event always stays.

An event goes only once it is past the audit period now, whatever as-of the run was
given: the anchor carries when its head was written and the period, and verification
refuses an anchor of events younger than that at the time it was signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent, MisuseCase, MisuseException
from licensing.services import audit, audit_anchors, audit_checkpoints, server_keys
from licensing.services.audit import ChainHead
from licensing.services.legal_hold_scope import held_customer_ids, held_license_ids
from licensing.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class PrunePlan:
    anchored: int  # events up to this seq are behind the newest anchor already
    through: int  # the prefix to prune: events 1..through
    stopped_by_hold: int | None  # the seq of the held event where the prefix stops
    kept_by_hold: int  # events past the period kept because the prefix stopped there
    audit_days: int  # the audit period the prefix is pruned under, signed into the anchor

    @property
    def due(self) -> ColumnElement[bool]:
        return AuditEvent.seq <= self.through


def _held_subjects(session: Session) -> ColumnElement[bool]:
    """Events about what a hold in force keeps: its licenses, customers, cases, exceptions."""
    licenses = [str(i) for i in session.scalars(held_license_ids())]
    customers = [str(i) for i in session.scalars(held_customer_ids())]
    cases = [
        str(i)
        for i in session.scalars(
            select(MisuseCase.id).where(MisuseCase.license_id.in_(held_license_ids()))
        )
    ]
    exceptions = [
        str(i)
        for i in session.scalars(
            select(MisuseException.id).where(MisuseException.license_id.in_(held_license_ids()))
        )
    ]
    e = AuditEvent
    return or_(
        and_(e.subject_type == "license", e.subject_id.in_(licenses)),
        and_(e.subject_type == "customer", e.subject_id.in_(customers)),
        and_(e.subject_type == "misuse_case", e.subject_id.in_(cases)),
        and_(e.subject_type == "misuse_exception", e.subject_id.in_(exceptions)),
    )


def plan(
    session: Session, cutoff: datetime, *, audit_days: int, now: datetime | None = None
) -> PrunePlan:
    """The longest prefix of events older than ``cutoff`` that no hold keeps.

    Never past ``audit_days`` before now: an as-of in the future does not make events
    younger than the period prunable, since their anchor would not verify.
    """
    e = AuditEvent
    cutoff = min(cutoff, (now or utcnow()) - timedelta(days=audit_days))
    anchored = audit_anchors.pruned_through(session)
    held = _held_subjects(session)
    newest = session.scalar(select(func.max(e.seq))) or anchored
    first_kept = session.execute(
        select(e.seq, e.occurred_at < cutoff)
        .where(e.seq > anchored, or_(e.occurred_at >= cutoff, held))
        .order_by(e.seq)
        .limit(1)
    ).first()
    if first_kept is None:
        # The newest event always stays: the next one links to it, not to the anchor.
        return PrunePlan(anchored, max(newest - 1, anchored), None, 0, audit_days)
    stop, old = int(first_kept[0]), bool(first_kept[1])
    if not old:
        return PrunePlan(anchored, stop - 1, None, 0, audit_days)
    kept = session.scalar(
        select(func.count()).select_from(e).where(e.seq >= stop, e.occurred_at < cutoff)
    )
    return PrunePlan(anchored, stop - 1, stop, int(kept or 0), audit_days)


def cannot_anchor(session: Session, plan: PrunePlan, sealer: Sealer | None = None) -> str | None:
    """Why the new prefix cannot be anchored (and so not pruned), or None when it can.

    With the ``sealer``, an anchor already there must be signed by a key this server
    created (its private key opens under the master key), as verification requires.
    """
    if plan.through <= plan.anchored:
        return None  # nothing beyond the newest anchor: its leftovers go behind it
    if server_keys.active_key(session) is None:
        return "audit events not pruned: no server signing key (run `licensing keys rotate`)"
    report = audit.verify(session, sealer=sealer)
    if not report.intact:
        return f"audit events not pruned: the chain is broken ({report.problem})"
    return None


def anchor(
    session: Session, sealer: Sealer, plan: PrunePlan, *, issuer: str, now: datetime
) -> str | None:
    """Sign and commit the anchor of the new prefix; why not, when it cannot be done."""
    refused = cannot_anchor(session, plan, sealer)
    if refused is not None or plan.through <= plan.anchored:
        return refused
    head = session.execute(
        select(AuditEvent.hash, AuditEvent.occurred_at).where(AuditEvent.seq == plan.through)
    ).first()
    if head is None:
        return f"audit events not pruned: event {plan.through} is missing"
    digest, head_at = str(head[0]), head[1]
    if not audit_anchors.within_period(head_at, plan.audit_days, now.replace(microsecond=0)):
        # The plan was made earlier, or with another clock: the anchor would not verify.
        return f"audit events not pruned: event {plan.through} is not past the audit period"
    audit_checkpoints.sign_prune_anchor(
        session,
        sealer,
        ChainHead(seq=plan.through, hash=digest, events=plan.through),
        head_at=head_at,
        audit_days=plan.audit_days,
        issuer=issuer,
        now=now,
    )
    session.commit()  # the anchor is durable before the first event it stands for goes
    return None
