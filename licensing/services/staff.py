"""Staff accounts: add, list, find, disable, change a role, reset a password.

Every change is an audit event naming the account by id: the audit log outlives the
account and holds no e-mail address or password, ever. No change leaves the console
without an active admin, and no admin takes their own admin role away.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from datetime import datetime
from enum import StrEnum

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.passwords import hash_password
from licensing.errors import Conflict, InvalidRequest, InvalidTransition, NotFound
from licensing.models import StaffRole, StaffUser
from licensing.services import audit
from licensing.timeutil import utcnow

# Deliberately loose: one @, something on each side, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
# Long enough that an offline guess against an argon2id hash is hopeless; no rules on
# character classes (NIST SP 800-63B): a long passphrase is better than a short puzzle.
MIN_PASSWORD_LENGTH = 12
MAX_PASSWORD_LENGTH = 1024


class AccountState(StrEnum):
    ACTIVE = "active"
    LOCKED = "locked"
    DISABLED = "disabled"


def account_state(staff: StaffUser, now: datetime) -> AccountState:
    """What the account can do now: sign in, wait for its lockout to run out, or nothing."""
    if staff.is_disabled:
        return AccountState.DISABLED
    return AccountState.LOCKED if staff.is_locked(now) else AccountState.ACTIVE


def add_staff(
    session: Session,
    *,
    email: str,
    display_name: str,
    role: str,
    password: str,
    actor: str,
) -> StaffUser:
    address = _address(session, email)
    now = utcnow()
    staff = StaffUser(
        email=address,
        display_name=_display_name(display_name),
        role=_role(role),
        password_hash=hash_password(_password(password)),
        failed_logins=0,
        password_changed_at=now,
        created_at=now,
    )
    session.add(staff)
    session.flush()
    _audit(session, staff, "staff.added", actor=actor, data={"role": staff.role})
    return staff


def list_staff(session: Session) -> Sequence[StaffUser]:
    return session.scalars(select(StaffUser).order_by(StaffUser.created_at, StaffUser.id)).all()


def find_staff(session: Session, reference: str) -> StaffUser:
    """An account by id, or by e-mail address (whatever its case)."""
    try:
        staff = session.get(StaffUser, uuid.UUID(reference))
    except ValueError:
        staff = staff_by_email(session, reference)
    if staff is None:
        raise NotFound("no such staff account")  # the reference may be an address: not echoed
    return staff


def staff_by_email(session: Session, email: str, *, for_update: bool = False) -> StaffUser | None:
    """The account with this address, whatever its case (``for_update``: its row locked)."""
    query = select(StaffUser).where(func.lower(StaffUser.email) == email.strip().lower())
    return session.scalar(query.with_for_update() if for_update else query)


def disable_staff(session: Session, staff: StaffUser, *, actor: str) -> StaffUser:
    """The account can no longer sign in, and its open sessions end at once."""
    admins = _lock_for_change(session, staff)
    if staff.is_disabled:
        raise InvalidTransition(f"staff account {staff.id} is already disabled")
    _keep_an_admin(staff, admins, actor=actor)
    now = utcnow()
    staff.disabled_at = now
    staff.sessions_valid_after = now
    session.flush()
    _audit(session, staff, "staff.disabled", actor=actor)
    return staff


def set_role(session: Session, staff: StaffUser, role: str, *, actor: str) -> StaffUser:
    """A new role; sessions signed in under the old one end (they would act with it)."""
    new_role = _role(role)
    admins = _lock_for_change(session, staff)
    if staff.role == new_role:
        return staff
    if new_role != StaffRole.ADMIN:
        _keep_an_admin(staff, admins, actor=actor)
    previous, staff.role = staff.role, new_role
    staff.sessions_valid_after = utcnow()
    session.flush()
    _audit(session, staff, "staff.role_set", actor=actor, data={"from": previous, "to": new_role})
    return staff


def reset_password(session: Session, staff: StaffUser, password: str, *, actor: str) -> StaffUser:
    """A new password: the lockout is lifted and every open session ends."""
    now = utcnow()
    staff.password_hash = hash_password(_password(password))
    staff.password_changed_at = now
    staff.sessions_valid_after = now
    staff.failed_logins = 0
    staff.locked_until = None
    session.flush()
    _audit(session, staff, "staff.password_reset", actor=actor)
    return staff


def sign_out(session: Session, staff: StaffUser) -> StaffUser:
    """End every console session of the account: a copied cookie stops working too."""
    staff.sessions_valid_after = utcnow()
    session.flush()
    _audit(session, staff, "staff.signed_out", actor=f"staff:{staff.id}")
    return staff


def session_is_current(staff: StaffUser, signed_in_at: datetime) -> bool:
    """Whether a console session signed in at ``signed_in_at`` may still act."""
    if staff.is_disabled:
        return False
    return staff.sessions_valid_after is None or signed_in_at >= staff.sessions_valid_after


def _lock_for_change(session: Session, staff: StaffUser) -> Sequence[StaffUser]:
    """The active admins, then ``staff``: their rows locked and read again, in that order.

    Every role change and every disabling locks in this order (the admins by id), so two
    of them never wait on each other crosswise; two admins demoting each other at once
    are decided one after the other, and the second sees the first's change.
    """
    admins = session.scalars(
        select(StaffUser)
        .where(StaffUser.role == StaffRole.ADMIN.value, StaffUser.disabled_at.is_(None))
        .order_by(StaffUser.id)
        .with_for_update()
        .execution_options(populate_existing=True)
    ).all()
    session.refresh(staff, with_for_update=True)
    return admins


def _keep_an_admin(staff: StaffUser, admins: Sequence[StaffUser], *, actor: str) -> None:
    """Refuse to take the admin role from ``staff`` (a lesser role, or disabling) when that
    is the actor's own account or the last active admin: nobody could manage staff then.

    A locked admin still counts: a lockout runs out, a disabled account stays disabled.
    """
    if staff not in admins:
        return
    if actor == f"staff:{staff.id}":
        raise InvalidTransition(
            "you may not demote or disable your own account, as that could lock the last "
            "admin out; another admin can"
        )
    if len(admins) == 1:
        raise InvalidTransition(
            f"staff account {staff.id} is the last active admin; make another account admin first"
        )


def _audit(
    session: Session,
    staff: StaffUser,
    action: str,
    *,
    actor: str,
    data: dict[str, str] | None = None,
) -> None:
    audit.record(
        session, actor=actor, action=action, subject_type="staff", subject_id=staff.id, data=data
    )


def _address(session: Session, email: str) -> str:
    address = email.strip().lower()
    if not _EMAIL.match(address) or len(address) > 320:
        raise InvalidRequest("not an e-mail address", errors={"email": ["invalid"]})
    holder = session.scalar(select(StaffUser.id).where(func.lower(StaffUser.email) == address))
    if holder is not None:
        raise Conflict(
            f"staff account {holder} already has that e-mail address", errors={"email": ["taken"]}
        )
    return address


def _display_name(name: str) -> str:
    if not name.strip() or len(name.strip()) > 200:
        raise InvalidRequest(
            "the display name must be 1 to 200 characters", errors={"name": ["invalid"]}
        )
    return name.strip()


def _role(role: str) -> str:
    try:
        return StaffRole(role.strip().lower()).value
    except ValueError:
        allowed = ", ".join(r.value for r in StaffRole)
        raise InvalidRequest(
            f"a staff role is one of {allowed}", errors={"role": ["unknown"]}
        ) from None


def _password(password: str) -> str:
    if not MIN_PASSWORD_LENGTH <= len(password) <= MAX_PASSWORD_LENGTH:
        raise InvalidRequest(
            f"a staff password has {MIN_PASSWORD_LENGTH} to {MAX_PASSWORD_LENGTH} characters",
            errors={"password": ["length"]},
        )
    return password
