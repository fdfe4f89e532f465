"""Four eyes: a revocation one admin asks for is carried out only when another approves it,
and the audit event of the revocation names both."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict, Forbidden, InvalidRequest, InvalidTransition, NotFound
from licensing.models import (
    ApprovalAction,
    ApprovalRequest,
    ApprovalStatus,
    AuditEvent,
    License,
    LicenseStatus,
    StaffUser,
)
from licensing.services import approvals, licenses
from licensing.services import staff as accounts
from licensing.timeutil import utcnow
from tests.factories import make_license

NOW = utcnow().replace(microsecond=0)
REASON = "chargeback: the card was stolen"


def _staff(session: Session, role: str = "admin", name: str = "Admin") -> StaffUser:
    return accounts.add_staff(
        session,
        email=f"{name.lower()}.{uuid.uuid4().hex[:6]}@example.org",
        display_name=name,
        role=role,
        password="a long enough passphrase",
        actor="test:pytest",
    )


@pytest.fixture
def license(session: Session, sealer: Sealer) -> License:
    return make_license(session, sealer).license


@pytest.fixture
def alice(session: Session) -> StaffUser:
    return _staff(session, name="Alice")


@pytest.fixture
def bob(session: Session) -> StaffUser:
    return _staff(session, name="Bob")


def _ask(session: Session, license: License, who: StaffUser) -> ApprovalRequest:
    return approvals.request_revocation(session, license, reason=REASON, requested_by=who, now=NOW)


def _events(session: Session, action: str) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent).where(AuditEvent.action == action).order_by(AuditEvent.seq)
        )
    )


def test_a_request_waits_and_leaves_the_license_as_it_was(
    session: Session, license: License, alice: StaffUser
) -> None:
    request = _ask(session, license, alice)
    assert request.status == ApprovalStatus.PENDING
    assert (request.action, request.subject_id) == (ApprovalAction.REVOKE_LICENSE, license.id)
    assert (request.requested_by, request.reason) == (alice.id, REASON)
    assert license.status == LicenseStatus.ACTIVE
    assert approvals.list_requests(session) == [request]
    assert approvals.pending_for(session, ApprovalAction.REVOKE_LICENSE, license.id) is request
    [asked] = _events(session, "approval.requested")
    assert asked.actor == f"staff:{alice.id}"
    assert asked.data["request_id"] == str(request.id)


def test_a_second_request_for_the_same_license_is_a_conflict(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    _ask(session, license, alice)
    with pytest.raises(Conflict, match="already waiting"):
        _ask(session, license, bob)
    assert len(approvals.list_requests(session)) == 1


def test_the_requester_cannot_approve_and_another_admin_revokes(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    request = _ask(session, license, alice)
    with pytest.raises(Forbidden, match="another admin"):
        approvals.approve(session, request.id, approver=alice, note="", now=NOW)
    assert request.status == ApprovalStatus.PENDING
    assert license.status == LicenseStatus.ACTIVE

    approvals.approve(
        session, request.id, approver=bob, note=" checked the bank's notice ", now=NOW
    )

    assert license.status == LicenseStatus.REVOKED
    assert license.status_reason == REASON
    assert request.status == ApprovalStatus.APPROVED
    assert (request.decided_by, request.decided_at) == (bob.id, NOW)
    assert request.decision_note == "checked the bank's notice"
    [revoked] = _events(session, "license.revoked")
    assert revoked.actor == f"staff:{bob.id}"
    assert revoked.data["requested_by"] == f"staff:{alice.id}"
    assert revoked.data["request_id"] == str(request.id)
    assert revoked.data["reason"] == REASON
    assert approvals.list_requests(session) == []


def test_an_approved_request_cannot_be_decided_again(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    request = _ask(session, license, alice)
    approvals.approve(session, request.id, approver=bob, note="", now=NOW)
    carol = _staff(session, name="Carol")
    with pytest.raises(Conflict, match="already approved"):
        approvals.approve(session, request.id, approver=carol, note="", now=NOW)
    with pytest.raises(Conflict, match="already approved"):
        approvals.reject(session, request.id, decider=carol, note="", now=NOW)
    assert len(_events(session, "license.revoked")) == 1


def test_another_admin_turns_a_request_down_and_the_license_stays(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    request = _ask(session, license, alice)
    approvals.reject(session, request.id, decider=bob, note="the bank withdrew it", now=NOW)
    assert request.status == ApprovalStatus.REJECTED
    assert request.decided_by == bob.id
    assert license.status == LicenseStatus.ACTIVE
    assert _events(session, "license.revoked") == []
    [rejected] = _events(session, "approval.rejected")
    assert rejected.actor == f"staff:{bob.id}"
    with pytest.raises(Conflict, match="already rejected"):
        approvals.approve(session, request.id, approver=bob, note="", now=NOW)
    # Decided, it no longer holds the license: a new request may be made.
    again = _ask(session, license, alice)
    assert again.status == ApprovalStatus.PENDING


def test_the_requester_withdraws_the_request(
    session: Session, license: License, alice: StaffUser
) -> None:
    request = _ask(session, license, alice)
    approvals.reject(session, request.id, decider=alice, note="", now=NOW)
    assert request.status == ApprovalStatus.WITHDRAWN
    assert request.decided_by is None  # no second person decided it
    assert license.status == LicenseStatus.ACTIVE
    [withdrawn] = _events(session, "approval.withdrawn")
    assert withdrawn.actor == f"staff:{alice.id}"


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_only_an_admin_asks_or_decides(
    session: Session, license: License, alice: StaffUser, role: str
) -> None:
    someone = _staff(session, role=role, name=role.title())
    with pytest.raises(Forbidden, match="only an admin"):
        _ask(session, license, someone)
    assert approvals.list_requests(session) == []
    request = _ask(session, license, alice)
    with pytest.raises(Forbidden, match="only an admin"):
        approvals.approve(session, request.id, approver=someone, note="", now=NOW)
    with pytest.raises(Forbidden, match="only an admin"):
        approvals.reject(session, request.id, decider=someone, note="", now=NOW)
    assert license.status == LicenseStatus.ACTIVE
    assert request.status == ApprovalStatus.PENDING


def test_a_disabled_admin_cannot_approve(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    request = _ask(session, license, alice)
    accounts.disable_staff(session, bob, actor="test:pytest")
    with pytest.raises(Forbidden):
        approvals.approve(session, request.id, approver=bob, note="", now=NOW)
    assert license.status == LicenseStatus.ACTIVE


def test_a_revoked_license_cannot_be_asked_for(
    session: Session, license: License, alice: StaffUser
) -> None:
    licenses.revoke(session, license, reason="refunded", actor="test:pytest", four_eyes=False)
    with pytest.raises(InvalidTransition):
        _ask(session, license, alice)
    assert approvals.list_requests(session) == []


def test_a_license_revoked_meanwhile_fails_the_approval(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    request = _ask(session, license, alice)
    licenses.revoke(session, license, reason="refunded", actor="test:pytest", four_eyes=False)
    with pytest.raises(InvalidTransition):
        approvals.approve(session, request.id, approver=bob, note="", now=NOW)


@pytest.mark.parametrize("reason", ["", "   ", "x" * 1001])
def test_the_reason_is_required_and_bounded(
    session: Session, license: License, alice: StaffUser, reason: str
) -> None:
    with pytest.raises(InvalidRequest, match="reason"):
        approvals.request_revocation(session, license, reason=reason, requested_by=alice, now=NOW)


def test_an_unknown_request_is_not_found(session: Session, bob: StaffUser) -> None:
    with pytest.raises(NotFound):
        approvals.approve(session, uuid.uuid4(), approver=bob, note="", now=NOW)


def test_decided_requests_are_listed_newest_first(
    session: Session, sealer: Sealer, alice: StaffUser, bob: StaffUser
) -> None:
    first = _ask(session, make_license(session, sealer).license, alice)
    second = approvals.request_revocation(
        session,
        make_license(session, sealer).license,
        reason=REASON,
        requested_by=alice,
        now=NOW + timedelta(minutes=1),
    )
    approvals.reject(session, first.id, decider=bob, note="", now=NOW)
    assert approvals.list_requests(session) == [second]
    assert approvals.list_requests(session, status=None) == [second, first]
    assert approvals.list_requests(session, status=ApprovalStatus.REJECTED) == [first]


def test_the_database_refuses_a_request_decided_by_its_requester(
    session: Session, license: License, alice: StaffUser
) -> None:
    request = _ask(session, license, alice)
    with pytest.raises(IntegrityError, match="decided_by_another"), session.begin_nested():
        request.status = ApprovalStatus.APPROVED.value
        request.decided_by = alice.id
        request.decided_at = NOW
        session.flush()


def test_the_database_refuses_two_pending_requests_for_one_subject(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    _ask(session, license, alice)
    with pytest.raises(IntegrityError), session.begin_nested():
        session.add(
            ApprovalRequest(
                action=ApprovalAction.REVOKE_LICENSE.value,
                subject_id=license.id,
                reason="again",
                requested_by=bob.id,
                requested_at=NOW,
                status=ApprovalStatus.PENDING.value,
            )
        )
        session.flush()


def _requested_by_alice_then(session: Session, license: License, alice: StaffUser) -> StaffUser:
    """Alice asks for a revocation; Carol is an admin account Alice herself added."""
    request = _ask(session, license, alice)
    carol = accounts.add_staff(
        session,
        email="carol@example.org",
        display_name="Carol",
        role="admin",
        password="a long enough passphrase",
        actor=approvals.staff_actor(alice),
    )
    assert request.status == ApprovalStatus.PENDING
    return carol


def test_an_admin_the_requester_added_cannot_approve(
    session: Session, license: License, alice: StaffUser
) -> None:
    carol = _requested_by_alice_then(session, license, alice)
    [request] = approvals.list_requests(session)
    with pytest.raises(Forbidden, match="added, given its role or its password by the admin"):
        approvals.approve(session, request.id, approver=carol, note="", now=NOW)
    assert request.status == ApprovalStatus.PENDING
    assert license.status == LicenseStatus.ACTIVE
    assert _events(session, "license.revoked") == []


def test_an_admin_the_requester_promoted_cannot_approve(
    session: Session, license: License, alice: StaffUser
) -> None:
    dave = _staff(session, role="viewer", name="Dave")  # added by someone else
    request = _ask(session, license, alice)
    accounts.set_role(session, dave, "admin", actor=approvals.staff_actor(alice))
    with pytest.raises(Forbidden, match="another admin must approve it"):
        approvals.approve(session, request.id, approver=dave, note="", now=NOW)
    assert license.status == LicenseStatus.ACTIVE


def test_an_admin_whose_password_the_requester_reset_cannot_approve(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    request = _ask(session, license, alice)
    accounts.reset_password(
        session, bob, "a password alice now knows", actor=approvals.staff_actor(alice)
    )
    with pytest.raises(Forbidden, match="another admin must approve it"):
        approvals.approve(session, request.id, approver=bob, note="", now=NOW)
    assert license.status == LicenseStatus.ACTIVE


def test_what_someone_else_did_to_the_approver_does_not_count(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    # Bob was added by another actor, and Bob (not Alice) reset Erin's password: neither
    # ties the approver to the requester.
    erin = _staff(session, name="Erin")
    accounts.reset_password(
        session, erin, "erin's new passphrase", actor=approvals.staff_actor(bob)
    )
    accounts.disable_staff(
        session, _staff(session, name="Frank"), actor=approvals.staff_actor(alice)
    )
    request = _ask(session, license, alice)
    approvals.approve(session, request.id, approver=erin, note="", now=NOW)
    assert license.status == LicenseStatus.REVOKED
    [revoked] = _events(session, "license.revoked")
    assert revoked.actor == f"staff:{erin.id}"


def test_the_approval_revokes_from_the_status_the_database_holds(
    session: Session, license: License, alice: StaffUser, bob: StaffUser
) -> None:
    request = _ask(session, license, alice)
    assert license.status == LicenseStatus.ACTIVE  # what this session has in memory
    # Another admin's suspension, committed behind this session's back.
    session.execute(
        update(License)
        .where(License.id == license.id)
        .values(status=LicenseStatus.SUSPENDED.value, status_reason="payment overdue")
        .execution_options(synchronize_session=False)
    )
    approvals.approve(session, request.id, approver=bob, note="", now=NOW)
    [revoked] = _events(session, "license.revoked")
    assert revoked.data["from"] == LicenseStatus.SUSPENDED.value
    assert license.status == LicenseStatus.REVOKED


def test_a_puppet_made_by_a_puppet_cannot_approve(
    session: Session, license: License, alice: StaffUser
) -> None:
    # Alice adds P1 (she knows its password), signs in as P1, and P1 adds P2.
    request = _ask(session, license, alice)
    first = accounts.add_staff(
        session,
        email="p1@example.org",
        display_name="P1",
        role="admin",
        password="a long enough passphrase",
        actor=approvals.staff_actor(alice),
    )
    second = accounts.add_staff(
        session,
        email="p2@example.org",
        display_name="P2",
        role="admin",
        password="another long passphrase",
        actor=approvals.staff_actor(first),
    )
    with pytest.raises(Forbidden, match="another admin must approve it"):
        approvals.approve(session, request.id, approver=second, note="", now=NOW)
    assert license.status == LicenseStatus.ACTIVE


def test_an_admin_who_chose_their_own_password_is_independent_again(
    session: Session, license: License, alice: StaffUser
) -> None:
    # Carol was added by Alice, then set a password of her own: Alice no longer knows it.
    carol = accounts.add_staff(
        session,
        email="carol@example.org",
        display_name="Carol",
        role="admin",
        password="a long enough passphrase",
        actor=approvals.staff_actor(alice),
    )
    accounts.reset_password(
        session, carol, "carol's very own passphrase", actor=approvals.staff_actor(carol)
    )
    request = _ask(session, license, alice)
    approvals.approve(session, request.id, approver=carol, note="", now=NOW)
    assert license.status == LicenseStatus.REVOKED


def test_an_admin_the_requester_appointed_before_asking_may_approve(
    session: Session, license: License, alice: StaffUser
) -> None:
    dave = _staff(session, role="viewer", name="Dave")  # his password: not Alice's to know
    accounts.set_role(session, dave, "admin", actor=approvals.staff_actor(alice))
    later = NOW + timedelta(hours=1)
    request = approvals.request_revocation(
        session, license, reason=REASON, requested_by=alice, now=later
    )
    approvals.approve(session, request.id, approver=dave, note="", now=later)
    assert license.status == LicenseStatus.REVOKED
