"""Staff accounts and signing in: unique addresses, roles, lockout, audits by id only."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from licensing.crypto import passwords
from licensing.errors import Conflict, InvalidRequest, InvalidTransition, NotFound
from licensing.models import AuditEvent, StaffRole, StaffUser
from licensing.services import staff as accounts
from licensing.services import staff_sign_in
from licensing.services.staff_sign_in import LockoutPolicy, SignInOutcome, authenticate
from licensing.timeutil import utcnow
from tests.factories import latest_event

PASSWORD = "correct horse battery staple"
POLICY = LockoutPolicy(failures=3, minutes=15)


def add(session: Session, actor: str, email: str = "Ada@Example.org", role: str = "analyst"):
    return accounts.add_staff(
        session, email=email, display_name="Ada", role=role, password=PASSWORD, actor=actor
    )


def events(session: Session, staff: StaffUser) -> list[AuditEvent]:
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == str(staff.id))
            .order_by(AuditEvent.seq)
        )
    )


def test_add_keeps_an_argon2id_hash_and_audits_the_id_only(session: Session, actor: str) -> None:
    staff = add(session, actor)

    assert staff.email == "ada@example.org"
    assert staff.password_hash.startswith("$argon2id$")
    assert PASSWORD not in staff.password_hash
    event = latest_event(session)
    assert (event.action, event.subject_id, event.data) == (
        "staff.added",
        str(staff.id),
        {"role": "analyst"},
    )
    assert "example.org" not in str(event.data) and PASSWORD not in str(event.data)


def test_an_address_has_one_account_whatever_its_case(session: Session, actor: str) -> None:
    first = add(session, actor)
    with pytest.raises(Conflict, match=str(first.id)):
        add(session, actor, email="ADA@example.ORG")
    assert accounts.find_staff(session, "ada@EXAMPLE.org") == first
    assert accounts.find_staff(session, str(first.id)) == first


def test_the_database_holds_addresses_unique_whatever_their_case(
    session: Session, actor: str
) -> None:
    first = add(session, actor)
    twin = StaffUser(
        email="ADA@EXAMPLE.ORG",
        display_name="Twin",
        role="viewer",
        password_hash=first.password_hash,
        failed_logins=0,
        password_changed_at=utcnow(),
    )
    session.add(twin)
    with pytest.raises(IntegrityError):
        session.flush()
    session.rollback()


@pytest.mark.parametrize(
    ("field", "options"),
    [
        ("email", {"email": "not-an-address"}),
        ("role", {"role": "owner"}),
        ("password", {"password": "short"}),
        ("name", {"display_name": " "}),
    ],
)
def test_bad_input_is_refused(session: Session, actor: str, field: str, options: dict) -> None:
    values = {"email": "a@example.org", "display_name": "A", "role": "viewer", "password": PASSWORD}
    with pytest.raises(InvalidRequest) as raised:
        accounts.add_staff(session, actor=actor, **(values | options))
    assert set(raised.value.errors) == {field}


def test_an_unknown_account_is_not_found_without_echoing_the_address(session: Session) -> None:
    with pytest.raises(NotFound) as raised:
        accounts.find_staff(session, "nobody@example.org")
    assert "nobody" not in raised.value.detail


def test_list_disable_and_set_role(session: Session, actor: str) -> None:
    ada = add(session, actor, role="admin")  # another admin: bob is not the last one
    bob = add(session, actor, email="bob@example.org", role="viewer")
    assert list(accounts.list_staff(session)) == [ada, bob]

    accounts.set_role(session, bob, "admin", actor=actor)
    assert bob.role == "admin"
    assert latest_event(session).data == {"from": "viewer", "to": "admin"}

    accounts.disable_staff(session, bob, actor=actor)
    assert bob.is_disabled
    assert latest_event(session).action == "staff.disabled"
    with pytest.raises(InvalidTransition):
        accounts.disable_staff(session, bob, actor=actor)


def test_the_last_active_admin_keeps_the_role(session: Session, actor: str) -> None:
    ada = add(session, actor, role="admin")
    bob = add(session, actor, email="bob@example.org", role="admin")
    accounts.disable_staff(session, bob, actor=actor)
    for change in (
        lambda: accounts.set_role(session, ada, "analyst", actor=actor),
        lambda: accounts.disable_staff(session, ada, actor=actor),
    ):
        with pytest.raises(InvalidTransition, match="last active admin"):
            change()
    assert (ada.role, ada.is_disabled) == ("admin", False)
    assert latest_event(session).action == "staff.disabled"  # bob's; nothing after it

    accounts.set_role(session, bob, "analyst", actor=actor)  # not an active admin: allowed
    assert bob.role == "analyst"


def test_an_admin_keeps_their_own_admin_role(session: Session, actor: str) -> None:
    ada = add(session, actor, role="admin")
    add(session, actor, email="bob@example.org", role="admin")
    own = f"staff:{ada.id}"
    with pytest.raises(InvalidTransition, match="your own account"):
        accounts.set_role(session, ada, "viewer", actor=own)
    with pytest.raises(InvalidTransition, match="your own account"):
        accounts.disable_staff(session, ada, actor=own)
    assert accounts.set_role(session, ada, "admin", actor=own).role == "admin"  # no change
    accounts.reset_password(session, ada, "a brand new passphrase", actor=own)
    accounts.set_role(session, ada, "viewer", actor=actor)  # another actor, another admin
    assert ada.role == "viewer"


def test_the_account_state(session: Session, actor: str) -> None:
    ada = add(session, actor)
    now = utcnow()
    assert accounts.account_state(ada, now) is accounts.AccountState.ACTIVE
    ada.locked_until = now + timedelta(minutes=5)
    assert accounts.account_state(ada, now) is accounts.AccountState.LOCKED
    assert accounts.account_state(ada, now + timedelta(minutes=6)).value == "active"
    accounts.disable_staff(session, ada, actor=actor)
    assert accounts.account_state(ada, now) is accounts.AccountState.DISABLED


def test_roles_include_the_ones_below() -> None:
    assert StaffRole.ADMIN.includes(StaffRole.ANALYST)
    assert StaffRole.ANALYST.includes(StaffRole.VIEWER)
    assert not StaffRole.VIEWER.includes(StaffRole.ANALYST)
    assert not StaffRole.ANALYST.includes(StaffRole.ADMIN)


def test_sign_in_with_the_right_password(session: Session, actor: str) -> None:
    staff = add(session, actor)

    result = authenticate(session, " ADA@example.org", PASSWORD, policy=POLICY)

    assert result.outcome is SignInOutcome.SIGNED_IN and result.staff == staff
    assert staff.last_login_at is not None
    assert latest_event(session).action == "staff.signed_in"


def test_an_unknown_address_costs_a_verification_too(
    session: Session, monkeypatch: pytest.MonkeyPatch
) -> None:
    verified: list[str] = []
    monkeypatch.setattr(staff_sign_in, "verify_nothing", verified.append)

    result = authenticate(session, "nobody@example.org", "guess", policy=POLICY)

    assert result.outcome is SignInOutcome.REFUSED and result.staff is None
    assert verified == ["guess"]


def test_the_dummy_verification_really_runs_argon2(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[str] = []
    original = passwords.verify_password

    def spy(password_hash: str, password: str) -> bool:
        calls.append(password_hash)
        return original(password_hash, password)

    monkeypatch.setattr(passwords, "verify_password", spy)
    passwords.verify_nothing("guess")
    assert len(calls) == 1 and calls[0].startswith("$argon2id$")


def test_lockout_after_repeated_failures_then_it_runs_out(session: Session, actor: str) -> None:
    staff = add(session, actor)
    now = utcnow()

    outcomes = [
        authenticate(session, staff.email, "wrong", policy=POLICY, now=now).outcome
        for _ in range(3)
    ]

    assert outcomes == [SignInOutcome.REFUSED, SignInOutcome.REFUSED, SignInOutcome.LOCKED]
    assert staff.locked_until == now + timedelta(minutes=15)
    # Locked: even the right password is refused until the lock runs out.
    later = now + timedelta(minutes=14)
    assert authenticate(session, staff.email, PASSWORD, policy=POLICY, now=later).outcome is (
        SignInOutcome.LOCKED
    )
    after = now + timedelta(minutes=16)
    assert authenticate(session, staff.email, PASSWORD, policy=POLICY, now=after).succeeded
    assert (staff.failed_logins, staff.locked_until) == (0, None)
    actions = [e.action for e in events(session, staff)]
    assert actions.count("staff.sign_in_failed") == 3
    assert actions.count("staff.locked_out") == 1
    for event in events(session, staff):
        assert staff.email not in str(event.data) and "wrong" not in str(event.data)


def test_a_success_resets_the_failure_count(session: Session, actor: str) -> None:
    staff = add(session, actor)
    for _ in range(2):
        authenticate(session, staff.email, "wrong", policy=POLICY)
    assert authenticate(session, staff.email, PASSWORD, policy=POLICY).succeeded
    assert authenticate(session, staff.email, "wrong", policy=POLICY).outcome is (
        SignInOutcome.REFUSED
    )
    assert staff.failed_logins == 1


def test_a_disabled_account_cannot_sign_in(session: Session, actor: str) -> None:
    staff = add(session, actor)
    accounts.disable_staff(session, staff, actor=actor)
    assert authenticate(session, staff.email, PASSWORD, policy=POLICY).outcome is (
        SignInOutcome.DISABLED
    )


def test_a_reset_password_lifts_the_lock_and_ends_sessions(session: Session, actor: str) -> None:
    staff = add(session, actor)
    signed_in_at = utcnow() - timedelta(seconds=1)
    for _ in range(3):
        authenticate(session, staff.email, "wrong", policy=POLICY)
    assert staff.is_locked(utcnow())
    assert accounts.session_is_current(staff, signed_in_at)

    accounts.reset_password(session, staff, "another long passphrase", actor=actor)

    assert not staff.is_locked(utcnow())
    assert not accounts.session_is_current(staff, signed_in_at)
    assert latest_event(session).action == "staff.password_reset"
    assert authenticate(session, staff.email, "another long passphrase", policy=POLICY).succeeded
    assert not authenticate(session, staff.email, PASSWORD, policy=POLICY).succeeded


def test_signing_out_ends_every_session_signed_in_before(session: Session, actor: str) -> None:
    staff = add(session, actor)
    signed_in_at = utcnow() - timedelta(seconds=1)
    accounts.sign_out(session, staff)
    assert not accounts.session_is_current(staff, signed_in_at)
    assert accounts.session_is_current(staff, utcnow())
    assert latest_event(session).actor == f"staff:{staff.id}"
