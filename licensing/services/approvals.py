"""Four eyes: an irreversible action asked for by one admin and decided by another.

With ``LICENSING_FOUR_EYES`` on, revoking a license and releasing a legal hold are
requests; each is carried out only when a second admin approves it, and the audit event
of the revocation (the release) names both. The request row is locked while it is
decided, so two admins approving at once revoke (release) once.

The second admin must be independent of the first (``approval_independence``).
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
    LegalHold,
    License,
    StaffRole,
    StaffUser,
)
from licensing.services import audit, legal_holds, licenses
from licensing.services.approval_independence import require_independent

REASON_MAX = 1000

# What each action is on, in the audit log's words and in a sentence.
_SUBJECT_TYPES = {
    ApprovalAction.REVOKE_LICENSE: "license",
    ApprovalAction.RELEASE_HOLD: legal_holds.SUBJECT_TYPE,
}
_NOUNS = {
    ApprovalAction.REVOKE_LICENSE: "revocation of this license",
    ApprovalAction.RELEASE_HOLD: "release of this legal hold",
}


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
    return _ask(
        session,
        ApprovalAction.REVOKE_LICENSE,
        license.id,
        reason=reason,
        requested_by=requested_by,
        now=now,
        audited={"reason": reason},
    )


def request_hold_release(
    session: Session, hold: LegalHold, *, reason: str, requested_by: StaffUser, now: datetime
) -> ApprovalRequest:
    """Ask a second admin to release ``hold``; one open request per hold.

    The reason may name the matter's parties, so the audit event says only that one was
    given (the request row keeps it for the approver to read)."""
    _require_admin(requested_by)
    legal_holds.check_releasable(hold)
    reason = legal_holds.reason_text(reason)
    return _ask(
        session,
        ApprovalAction.RELEASE_HOLD,
        hold.id,
        reason=reason,
        requested_by=requested_by,
        now=now,
        audited={"reason_given": True, "reason_length": len(reason)},
    )


def _ask(
    session: Session,
    action: ApprovalAction,
    subject_id: uuid.UUID,
    *,
    reason: str,
    requested_by: StaffUser,
    now: datetime,
    audited: dict[str, object],
) -> ApprovalRequest:
    waiting = f"a {_NOUNS[action]} is already waiting for approval"
    if pending_for(session, action, subject_id) is not None:
        raise Conflict(waiting)
    request = ApprovalRequest(
        action=action.value,
        subject_id=subject_id,
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
        # Another admin's request for the same subject committed first.
        raise Conflict(waiting) from None
    audit.record(
        session,
        actor=staff_actor(requested_by),
        action="approval.requested",
        subject_type=subject_type(action),
        subject_id=subject_id,
        data={"request_id": str(request.id), "action": request.action, **audited},
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
    require_independent(session, approver, request)
    _decide(request, ApprovalStatus.APPROVED, approver, note, now)
    session.flush()
    _carry_out(session, request, approver, now)
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
        subject_type=subject_type(ApprovalAction(request.action)),
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


def subject_type(action: ApprovalAction) -> str:
    """What the audit log calls the subject of ``action``."""
    return _SUBJECT_TYPES[action]


def _carry_out(
    session: Session, request: ApprovalRequest, approver: StaffUser, now: datetime
) -> None:
    try:
        action = ApprovalAction(request.action)
    except ValueError:
        raise InvalidRequest(f"no way to carry out {request.action!r}") from None
    if action is ApprovalAction.RELEASE_HOLD:
        _release_hold(session, request, approver, now)
    else:
        _revoke(session, request, approver)


def _revoke(session: Session, request: ApprovalRequest, approver: StaffUser) -> None:
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


def _release_hold(
    session: Session, request: ApprovalRequest, approver: StaffUser, now: datetime
) -> None:
    # Locked and read afresh, as the revocation is: a release committed meanwhile (with
    # four eyes off then) must refuse this one, not release twice.
    hold = legal_holds.find(session, request.subject_id, for_update=True)
    legal_holds.release(
        session,
        hold,
        reason=request.reason,
        actor=staff_actor(approver),
        now=now,
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
