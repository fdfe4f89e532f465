"""Four eyes: an irreversible action asked for by one admin and decided by another.

With ``LICENSING_FOUR_EYES`` on, revoking a license is a request; it is carried out only
when a second admin approves it, and the audit event of the revocation names both. The
request row is locked while it is decided, so two admins approving at once revoke once.

The second admin must be independent of the first: not an account the requester added,
promoted or gave a new password to, or one admin could make a puppet and approve alone.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.errors import Conflict, Forbidden, InvalidRequest, NotFound
from licensing.models import (
    ApprovalAction,
    ApprovalRequest,
    ApprovalStatus,
    AuditEvent,
    License,
    StaffRole,
    StaffUser,
)
from licensing.services import audit, licenses

REASON_MAX = 1000

# The events that set an account's password: whoever made the newest one knows it.
PASSWORD_SET = ("staff.added", "staff.password_reset")
# Far longer than any real chain of accounts made by accounts; a bound against a cycle.
LONGEST_CHAIN = 50


def staff_actor(staff: StaffUser) -> str:
    """How a staff member is named in the audit log: by id, never by e-mail."""
    return f"staff:{staff.id}"


def request_revocation(
    session: Session, license: License, *, reason: str, requested_by: StaffUser, now: datetime
) -> ApprovalRequest:
    """Ask a second admin to revoke ``license``; one open request per license."""
    _require_admin(requested_by)
    licenses.check_revocable(license)
    reason = _reason(reason)
    if pending_for(session, ApprovalAction.REVOKE_LICENSE, license.id) is not None:
        raise Conflict("a revocation of this license is already waiting for approval")
    request = ApprovalRequest(
        action=ApprovalAction.REVOKE_LICENSE.value,
        subject_id=license.id,
        reason=reason,
        requested_by=requested_by.id,
        requested_at=now,
        status=ApprovalStatus.PENDING.value,
    )
    session.add(request)
    try:
        with session.begin_nested():
            session.flush()
    except IntegrityError:
        # Another admin's request for the same license committed first.
        raise Conflict("a revocation of this license is already waiting for approval") from None
    audit.record(
        session,
        actor=staff_actor(requested_by),
        action="approval.requested",
        subject_type="license",
        subject_id=license.id,
        data={"request_id": str(request.id), "action": request.action, "reason": reason},
        now=now,
    )
    return request


def approve(
    session: Session, request_id: uuid.UUID, *, approver: StaffUser, note: str, now: datetime
) -> ApprovalRequest:
    """Carry out the request as ``approver``, a second admin; both are named in the audit."""
    request = _pending_locked(session, request_id)
    _require_admin(approver)
    if approver.id == request.requested_by:
        raise Forbidden("a request must be approved by another admin than the one who made it")
    _require_independent(session, approver, request)
    _decide(request, ApprovalStatus.APPROVED, approver, note, now)
    session.flush()
    _carry_out(session, request, approver)
    return request


def reject(
    session: Session, request_id: uuid.UUID, *, decider: StaffUser, note: str, now: datetime
) -> ApprovalRequest:
    """Turn the request down (another admin), or withdraw it (the admin who made it)."""
    request = _pending_locked(session, request_id)
    _require_admin(decider)
    own = decider.id == request.requested_by
    status = ApprovalStatus.WITHDRAWN if own else ApprovalStatus.REJECTED
    _decide(request, status, None if own else decider, note, now)
    session.flush()
    audit.record(
        session,
        actor=staff_actor(decider),
        action=f"approval.{status.value}",
        subject_type="license",
        subject_id=request.subject_id,
        data={"request_id": str(request.id), "action": request.action},
        now=now,
    )
    return request


def pending_for(
    session: Session, action: ApprovalAction, subject_id: uuid.UUID
) -> ApprovalRequest | None:
    return session.scalars(
        select(ApprovalRequest).where(
            ApprovalRequest.action == action.value,
            ApprovalRequest.subject_id == subject_id,
            ApprovalRequest.status == ApprovalStatus.PENDING.value,
        )
    ).first()


def list_requests(
    session: Session, *, status: ApprovalStatus | None = ApprovalStatus.PENDING, limit: int = 100
) -> Sequence[ApprovalRequest]:
    """Requests, the oldest waiting first (or the newest decided first)."""
    query = select(ApprovalRequest).limit(limit)
    if status is not None:
        query = query.where(ApprovalRequest.status == status.value)
    if status is ApprovalStatus.PENDING:
        return session.scalars(query.order_by(ApprovalRequest.requested_at)).all()
    return session.scalars(query.order_by(ApprovalRequest.requested_at.desc())).all()


def _require_independent(session: Session, approver: StaffUser, request: ApprovalRequest) -> None:
    """Refuse an approver in the requester's hands: one whose password the requester knows,
    or one the requester made an admin while the request waited."""
    if _knows_password(session, request.requested_by, approver) or _promoted_since(
        session, request, approver
    ):
        raise Forbidden(
            "the approver's account was added, given its role or its password by the admin "
            "who made the request; another admin must approve it"
        )


def _knows_password(session: Session, requester_id: uuid.UUID, account: StaffUser) -> bool:
    """Whether the requester set the account's current password, or set the password of
    the account that set it, and so on: a puppet made by a puppet is still a puppet.

    A password the account's owner set for themselves (a reset as themselves) ends the
    chain, and so does one set from the command line (an operator, not a staff session).
    """
    requester, current, seen = f"staff:{requester_id}", str(account.id), set[str]()
    while current not in seen and len(seen) < LONGEST_CHAIN:
        seen.add(current)
        setter = session.scalar(
            select(AuditEvent.actor)
            .where(
                AuditEvent.subject_type == "staff",
                AuditEvent.subject_id == current,
                AuditEvent.action.in_(PASSWORD_SET),
            )
            .order_by(AuditEvent.seq.desc())
            .limit(1)
        )
        if setter == requester:
            return True
        if setter is None or not setter.startswith("staff:"):
            return False
        current = setter.removeprefix("staff:")
    return False


def _promoted_since(session: Session, request: ApprovalRequest, account: StaffUser) -> bool:
    # A role given before the request is an admin appointed for any purpose; one given
    # while it waits is an approver chosen for this one.
    given = session.scalar(
        select(AuditEvent.seq)
        .where(
            AuditEvent.subject_type == "staff",
            AuditEvent.subject_id == str(account.id),
            AuditEvent.actor == f"staff:{request.requested_by}",
            AuditEvent.action == "staff.role_set",
            AuditEvent.occurred_at >= request.requested_at.replace(microsecond=0),
        )
        .limit(1)
    )
    return given is not None


def _carry_out(session: Session, request: ApprovalRequest, approver: StaffUser) -> None:
    if request.action != ApprovalAction.REVOKE_LICENSE.value:
        raise InvalidRequest(f"no way to carry out {request.action!r}")
    # Locked and read afresh: a suspension committed since the session last read the row
    # must be the "from" of the revocation, not a stale status.
    license = session.get(License, request.subject_id, with_for_update=True, populate_existing=True)
    if license is None:
        raise NotFound("the license of this request no longer exists")
    licenses.revoke(
        session,
        license,
        reason=request.reason,
        actor=staff_actor(approver),
        four_eyes=True,
        requested_by=f"staff:{request.requested_by}",
        request_id=str(request.id),
    )


def _pending_locked(session: Session, request_id: uuid.UUID) -> ApprovalRequest:
    request = session.scalars(
        select(ApprovalRequest).where(ApprovalRequest.id == request_id).with_for_update()
    ).first()
    if request is None:
        raise NotFound("no such approval request")
    if request.status != ApprovalStatus.PENDING.value:
        raise Conflict(f"the request was already {request.status}")
    return request


def _decide(
    request: ApprovalRequest,
    status: ApprovalStatus,
    decider: StaffUser | None,
    note: str,
    now: datetime,
) -> None:
    request.status = status.value
    request.decided_by = decider.id if decider is not None else None
    request.decided_at = now
    request.decision_note = note.strip()[:REASON_MAX] or None


def _require_admin(staff: StaffUser) -> None:
    if not StaffRole(staff.role).includes(StaffRole.ADMIN) or staff.is_disabled:
        raise Forbidden("only an admin may ask for or decide an irreversible action")


def _reason(text: str) -> str:
    reason = text.strip()
    if not reason:
        raise InvalidRequest("give the reason for revoking the license")
    if len(reason) > REASON_MAX:
        raise InvalidRequest(f"the reason is longer than {REASON_MAX} characters")
    return reason
