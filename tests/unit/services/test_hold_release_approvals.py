"""Four eyes for releasing a legal hold: one admin asks, another approves, the hold is
released once and its audit event names both; the independence rules are the same as
for a revocation."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict, Forbidden, InvalidRequest, InvalidTransition
from licensing.models import (
    ApprovalAction,
    ApprovalStatus,
    AuditEvent,
    Customer,
    HoldScope,
    LegalHold,
    License,
    StaffUser,
)
from licensing.services import approvals, legal_holds
from licensing.services import staff as accounts
from licensing.timeutil import utcnow
from tests.factories import make_license

NOW = utcnow().replace(microsecond=0)
REASON = "the claim was settled and the matter closed"


def _admin(session: Session, name: str, actor: str = "test:pytest") -> StaffUser:
    return accounts.add_staff(
        session,
        email=f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.org",
        display_name=name,
        role="admin",
        password="a long enough passphrase",
        actor=actor,
    )


@pytest.fixture
def hold(session: Session, sealer: Sealer) -> LegalHold:
    return legal_holds.place(
        session,
        scope=HoldScope.LICENSE,
        license=make_license(session, sealer).license,
        matter="Smith v. Example Ltd",
        reason="litigation notice received from counsel",
        review_on=NOW.date() + timedelta(days=30),
        actor="test:pytest",
        now=NOW,
    )


def _count(session: Session, action: str) -> int:
    return session.scalar(
        select(func.count()).select_from(AuditEvent).where(AuditEvent.action == action)
    )


def test_a_requester_cannot_approve_their_own_release_and_another_admin_releases_once(
    session: Session, hold: LegalHold
) -> None:
    alice, bob = _admin(session, "Alice"), _admin(session, "Bob")
    request = approvals.request_hold_release(
        session, hold, reason=REASON, requested_by=alice, now=NOW
    )
    assert (request.action, request.subject_id) == (ApprovalAction.RELEASE_HOLD, hold.id)
    assert hold.released_at is None
    asked = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "approval.requested")
    ).one()
    assert (asked.subject_type, asked.subject_id) == ("legal_hold", str(hold.id))
    assert "settled" not in str(asked.data)  # the reason stays on the request row

    with pytest.raises(Forbidden, match="another admin"):
        approvals.approve(session, request.id, approver=alice, note="", now=NOW)
    assert hold.released_at is None and request.status == ApprovalStatus.PENDING

    approvals.approve(session, request.id, approver=bob, note="checked", now=NOW)

    assert hold.released_at == NOW and hold.released_by == f"staff:{bob.id}"
    assert hold.release_reason == REASON
    released = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "legal_hold.released")
    ).one()
    assert released.actor == f"staff:{bob.id}"
    assert released.data["requested_by"] == f"staff:{alice.id}"
    assert released.data["request_id"] == str(request.id)
    with pytest.raises(Conflict, match="already approved"):
        approvals.approve(session, request.id, approver=bob, note="", now=NOW)
    assert _count(session, "legal_hold.released") == 1


def test_an_approver_the_requester_made_may_not_approve(session: Session, hold: LegalHold) -> None:
    alice = _admin(session, "Alice")
    puppet = _admin(session, "Puppet", actor=f"staff:{alice.id}")
    request = approvals.request_hold_release(
        session, hold, reason=REASON, requested_by=alice, now=NOW
    )
    with pytest.raises(Forbidden, match="another admin must approve"):
        approvals.approve(session, request.id, approver=puppet, note="", now=NOW)
    assert hold.released_at is None


def test_one_waiting_request_per_hold_and_none_for_a_released_hold(
    session: Session, hold: LegalHold
) -> None:
    alice, bob = _admin(session, "Alice"), _admin(session, "Bob")
    approvals.request_hold_release(session, hold, reason=REASON, requested_by=alice, now=NOW)
    with pytest.raises(Conflict, match="release of this legal hold is already waiting"):
        approvals.request_hold_release(session, hold, reason=REASON, requested_by=bob, now=NOW)
    with pytest.raises(InvalidRequest, match="reason must be 10"):
        approvals.request_hold_release(session, hold, reason="short", requested_by=bob, now=NOW)

    other = legal_holds.place(
        session,
        scope=HoldScope.CUSTOMER,
        customer=hold_customer(session, hold),
        matter="Another matter",
        reason="a second matter about this customer",
        review_on=NOW.date() + timedelta(days=30),
        actor="x",
        now=NOW,
    )
    legal_holds.release(session, other, reason=REASON, actor="x", now=NOW, four_eyes=False)
    with pytest.raises(InvalidTransition, match="already released"):
        approvals.request_hold_release(session, other, reason=REASON, requested_by=bob, now=NOW)


def hold_customer(session: Session, hold: LegalHold) -> Customer:
    license = session.get_one(License, hold.license_id)
    return session.get_one(Customer, license.customer_id)


def test_a_release_done_meanwhile_makes_the_approval_fail_and_changes_nothing(
    session: Session, hold: LegalHold
) -> None:
    alice, bob = _admin(session, "Alice"), _admin(session, "Bob")
    request = approvals.request_hold_release(
        session, hold, reason=REASON, requested_by=alice, now=NOW
    )
    legal_holds.release(session, hold, reason=REASON, actor="cli:root", now=NOW, four_eyes=False)
    with pytest.raises(InvalidTransition, match="already released"):
        approvals.approve(session, request.id, approver=bob, note="", now=NOW)
    assert hold.released_by == "cli:root"
    assert _count(session, "legal_hold.released") == 1


def test_withdrawing_and_turning_down_name_the_hold(session: Session, hold: LegalHold) -> None:
    alice, bob = _admin(session, "Alice"), _admin(session, "Bob")
    request = approvals.request_hold_release(
        session, hold, reason=REASON, requested_by=alice, now=NOW
    )
    approvals.reject(session, request.id, decider=bob, note="not yet", now=NOW)
    rejected = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "approval.rejected")
    ).one()
    assert (rejected.subject_type, rejected.subject_id) == ("legal_hold", str(hold.id))
    assert hold.released_at is None
