"""Staff accounts of the console: who may sign in, with which role, and their lockout."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, Index, String, func, text
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, created_at, uuid_pk


class StaffRole(StrEnum):
    """Each role may do what the roles before it may, and more (docs/console.md)."""

    VIEWER = "viewer"
    ANALYST = "analyst"
    ADMIN = "admin"

    def includes(self, required: StaffRole) -> bool:
        order = list(StaffRole)
        return order.index(self) >= order.index(required)


class StaffUser(Base):
    __tablename__ = "staff_users"
    __table_args__ = (
        CheckConstraint("role IN ('viewer', 'analyst', 'admin')", name="role_known"),
        CheckConstraint("failed_logins >= 0", name="failed_logins_not_negative"),
        # One account per e-mail address, whatever its case (migration 0009).
        Index("uq_staff_users_email_lower", func.lower(text("email")), unique=True),
    )

    id: Mapped[uuid_pk]
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200))
    # argon2id, in the PHC string format (algorithm, parameters, salt and hash).
    password_hash: Mapped[str] = mapped_column(String(200))
    role: Mapped[str] = mapped_column(String(16))
    disabled_at: Mapped[datetime | None]
    failed_logins: Mapped[int] = mapped_column(default=0)
    locked_until: Mapped[datetime | None]
    password_changed_at: Mapped[datetime]
    # Console sessions signed in before this moment are no longer accepted (sign-out,
    # a new password, a new role, disabling): the cookie alone cannot be revoked.
    sessions_valid_after: Mapped[datetime | None]
    created_at: Mapped[created_at]
    last_login_at: Mapped[datetime | None]
    # Set when retention replaced the e-mail, name and password hash of a long-disabled
    # account; the row stays because the audit log names staff by id.
    anonymised_at: Mapped[datetime | None]

    @property
    def is_disabled(self) -> bool:
        return self.disabled_at is not None

    @property
    def is_anonymised(self) -> bool:
        return self.anonymised_at is not None

    def is_locked(self, now: datetime) -> bool:
        return self.locked_until is not None and self.locked_until > now
