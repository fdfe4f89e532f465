"""Signing a staff member in: the password check, and the lockout after repeated failures.

The check costs one argon2id verification whatever happens (an unknown address is
verified against a dummy hash), so neither the answer nor its timing tells which
addresses have an account.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from sqlalchemy.orm import Session

from licensing.crypto.passwords import hash_password, needs_rehash, verify_nothing, verify_password
from licensing.models import StaffUser
from licensing.services import audit
from licensing.services.staff import staff_by_email
from licensing.timeutil import utcnow


@dataclass(frozen=True, slots=True)
class LockoutPolicy:
    """After ``failures`` failed sign-ins in a row, the account is locked for ``minutes``."""

    failures: int = 5
    minutes: int = 15


class SignInOutcome(StrEnum):
    SIGNED_IN = "signed_in"
    # An unknown address or a wrong password: the same outcome on purpose.
    REFUSED = "refused"
    LOCKED = "locked"
    DISABLED = "disabled"


@dataclass(frozen=True, slots=True)
class SignIn:
    outcome: SignInOutcome
    staff: StaffUser | None = None

    @property
    def succeeded(self) -> bool:
        return self.outcome is SignInOutcome.SIGNED_IN


def authenticate(
    session: Session,
    email: str,
    password: str,
    *,
    policy: LockoutPolicy,
    now: datetime | None = None,
) -> SignIn:
    """Check a sign-in; count a failure towards the lockout, reset the count on success."""
    moment = now or utcnow()
    # Locked until the commit on PostgreSQL: parallel guesses at one account are counted
    # one after the other, so none escapes the lockout through a lost update. (SQLite's
    # writers already queue at BEGIN IMMEDIATE.)
    staff = staff_by_email(session, email, for_update=True)
    if staff is None:
        verify_nothing(password)
        return SignIn(SignInOutcome.REFUSED)
    correct = verify_password(staff.password_hash, password)
    # An anonymised account is disabled too; it is refused even if re-enabled by hand.
    if staff.is_disabled or staff.is_anonymised:
        return SignIn(SignInOutcome.DISABLED, staff)
    if staff.is_locked(moment):
        # Not even a right password opens a locked account before its time is up.
        return SignIn(SignInOutcome.LOCKED, staff)
    if not correct:
        return _failed(session, staff, policy, moment)
    if needs_rehash(staff.password_hash):
        staff.password_hash = hash_password(password)
    staff.failed_logins = 0
    staff.locked_until = None
    staff.last_login_at = moment
    session.flush()
    _audit(session, staff, "staff.signed_in", moment)
    return SignIn(SignInOutcome.SIGNED_IN, staff)


def _failed(session: Session, staff: StaffUser, policy: LockoutPolicy, now: datetime) -> SignIn:
    # A lock that has run out starts a fresh count.
    failures = 1 if staff.locked_until is not None else staff.failed_logins + 1
    staff.failed_logins = failures
    staff.locked_until = None
    locked = failures >= policy.failures
    if locked:
        staff.locked_until = now + timedelta(minutes=policy.minutes)
    session.flush()
    _audit(session, staff, "staff.sign_in_failed", now, {"failures": failures})
    if locked:
        _audit(session, staff, "staff.locked_out", now, {"minutes": policy.minutes})
        return SignIn(SignInOutcome.LOCKED, staff)
    return SignIn(SignInOutcome.REFUSED, staff)


def _audit(
    session: Session,
    staff: StaffUser,
    action: str,
    now: datetime,
    data: dict[str, int] | None = None,
) -> None:
    audit.record(
        session,
        actor=f"staff:{staff.id}",
        action=action,
        subject_type="staff",
        subject_id=staff.id,
        data=data,
        now=now,
    )
