"""Audit events past the audit period: pruned only as a prefix, behind a signed anchor.

The chain can lose its oldest events without losing its proof: events 1..N go once the
head of that prefix (seq N, its hash, the count) is recorded as an anchor signed by the
server (services/audit_checkpoints.sign_prune_anchor), and verification starts there
(services/audit.verify). The prefix ends before the first event still inside the period,
or about a license or customer a legal hold keeps: nothing after it goes either, since a
hole in the chain could not be told from a removal. The newest event always stays.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import ColumnElement, and_, func, or_, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent, MisuseCase, MisuseException
from licensing.services import audit, audit_anchors, audit_checkpoints, server_keys
from licensing.services.audit import ChainHead
from licensing.services.legal_hold_scope import held_customer_ids, held_license_ids


@dataclass(frozen=True, slots=True)
class PrunePlan:
    anchored: int  # events up to this seq are behind the newest anchor already
    through: int  # the prefix to prune: events 1..through
    stopped_by_hold: int | None  # the seq of the held event where the prefix stops
    kept_by_hold: int  # events past the period kept because the prefix stopped there

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


def plan(session: Session, cutoff: datetime) -> PrunePlan:
    """The longest prefix of events older than ``cutoff`` that no hold keeps."""
    e = AuditEvent
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
        return PrunePlan(anchored, max(newest - 1, anchored), None, 0)
    stop, old = int(first_kept[0]), bool(first_kept[1])
    if not old:
        return PrunePlan(anchored, stop - 1, None, 0)
    kept = session.scalar(
        select(func.count()).select_from(e).where(e.seq >= stop, e.occurred_at < cutoff)
    )
    return PrunePlan(anchored, stop - 1, stop, int(kept or 0))


def cannot_anchor(session: Session, plan: PrunePlan) -> str | None:
    """Why the new prefix cannot be anchored (and so not pruned), or None when it can."""
    if plan.through <= plan.anchored:
        return None  # nothing beyond the newest anchor: its leftovers go behind it
    if server_keys.active_key(session) is None:
        return "audit events not pruned: no server signing key (run `licensing keys rotate`)"
    report = audit.verify(session)
    if not report.intact:
        return f"audit events not pruned: the chain is broken ({report.problem})"
    return None


def anchor(
    session: Session, sealer: Sealer, plan: PrunePlan, *, issuer: str, now: datetime
) -> str | None:
    """Sign and commit the anchor of the new prefix; why not, when it cannot be done."""
    refused = cannot_anchor(session, plan)
    if refused is not None or plan.through <= plan.anchored:
        return refused
    digest = session.scalar(select(AuditEvent.hash).where(AuditEvent.seq == plan.through))
    if digest is None:
        return f"audit events not pruned: event {plan.through} is missing"
    audit_checkpoints.sign_prune_anchor(
        session,
        sealer,
        ChainHead(seq=plan.through, hash=digest, events=plan.through),
        issuer=issuer,
        now=now,
    )
    session.commit()  # the anchor is durable before the first event it stands for goes
    return None
