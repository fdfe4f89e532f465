"""The second pair of eyes must be another person's: an approver independent of the admin
who made the request.

Not an account the requester added, promoted or gave a new password to, or one admin
could make a puppet and approve alone.
"""

from __future__ import annotations

import uuid

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.errors import Forbidden
from licensing.models import ApprovalRequest, AuditEvent, StaffUser

# The events that set an account's password: whoever made the newest one knows it.
PASSWORD_SET = ("staff.added", "staff.password_reset")
# Far longer than any real chain of accounts made by accounts; a bound against a cycle.
LONGEST_CHAIN = 50


def require_independent(session: Session, approver: StaffUser, request: ApprovalRequest) -> None:
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
