"""Four eyes: an irreversible action one admin asked for and a second admin decides."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String, text
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, uuid_pk
from licensing.timeutil import utcnow


class ApprovalStatus(StrEnum):
    PENDING = "pending"
    APPROVED = "approved"
    REJECTED = "rejected"
    WITHDRAWN = "withdrawn"


class ApprovalAction(StrEnum):
    """The actions that wait for a second admin when ``LICENSING_FOUR_EYES`` is on."""

    REVOKE_LICENSE = "license.revoke"
    RELEASE_HOLD = "legal_hold.release"


class ApprovalRequest(Base):
    __tablename__ = "approval_requests"
    __table_args__ = (
        CheckConstraint(
            "status IN ('pending', 'approved', 'rejected', 'withdrawn')", name="status_known"
        ),
        # The second pair of eyes is another person's, whatever the code above it does.
        CheckConstraint(
            "decided_by IS NULL OR decided_by <> requested_by", name="decided_by_another"
        ),
        # One open request per action and subject: a second click finds the first.
        Index(
            "uq_approval_requests_pending",
            "action",
            "subject_id",
            unique=True,
            sqlite_where=text("status = 'pending'"),
            postgresql_where=text("status = 'pending'"),
        ),
        Index("ix_approval_requests_status_requested_at", "status", "requested_at"),
    )

    id: Mapped[uuid_pk]
    action: Mapped[str] = mapped_column(String(32))
    # What the action is on: a license's id for ``license.revoke``, a legal hold's for
    # ``legal_hold.release``.
    subject_id: Mapped[uuid.UUID]
    reason: Mapped[str] = mapped_column(String(1000))
    requested_by: Mapped[uuid.UUID] = mapped_column(ForeignKey("staff_users.id"))
    requested_at: Mapped[datetime] = mapped_column(default=utcnow)
    status: Mapped[str] = mapped_column(String(12), default=ApprovalStatus.PENDING)
    decided_by: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("staff_users.id"))
    decided_at: Mapped[datetime | None]
    decision_note: Mapped[str | None] = mapped_column(String(1000))
