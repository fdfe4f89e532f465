"""Data protection's own records: legal holds, and the data subjects' requests."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, Index, String
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, uuid_pk
from licensing.timeutil import utcnow


class HoldScope(StrEnum):
    LICENSE = "license"
    CUSTOMER = "customer"  # every license of the customer, and the customer record


class LegalHold(Base):
    """Data kept past its retention for a legal matter, until the hold is released."""

    __tablename__ = "legal_holds"
    __table_args__ = (
        CheckConstraint("scope IN ('license', 'customer')", name="scope_known"),
        # A hold names exactly what it keeps: the license, or the customer.
        CheckConstraint(
            "(scope = 'license' AND license_id IS NOT NULL AND customer_id IS NULL) OR "
            "(scope = 'customer' AND customer_id IS NOT NULL AND license_id IS NULL)",
            name="scope_matches_subject",
        ),
        Index("ix_legal_holds_license_id", "license_id"),
        Index("ix_legal_holds_customer_id", "customer_id"),
        Index("ix_legal_holds_released_at_review_on", "released_at", "review_on"),
    )

    id: Mapped[uuid_pk]
    scope: Mapped[str] = mapped_column(String(16))
    license_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("licenses.id"))
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))
    matter: Mapped[str] = mapped_column(String(200))
    reason: Mapped[str] = mapped_column(String(1000))
    review_on: Mapped[date]
    placed_by: Mapped[str] = mapped_column(String(200))
    placed_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Set when a confirmed misuse case placed the hold on its evidence.
    case_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("misuse_cases.id"))
    released_at: Mapped[datetime | None]
    released_by: Mapped[str | None] = mapped_column(String(200))
    release_reason: Mapped[str | None] = mapped_column(String(1000))


class PrivacyRequestKind(StrEnum):
    """The data subject's rights (GDPR Art. 15 to 21), as the requests that exercise them."""

    ACCESS = "access"  # access and portability: the export
    RECTIFICATION = "rectification"
    ERASURE = "erasure"
    RESTRICTION = "restriction"
    OBJECTION = "objection"
    LIFT_RESTRICTION = "lift_restriction"


class PrivacyRequestStatus(StrEnum):
    OPEN = "open"
    COMPLETED = "completed"
    REFUSED = "refused"


class PrivacyRequest(Base):
    """One data-subject request: when it came, when it is due, how the requester was
    verified, and what was done (the outcome holds counts and names of tables, never the
    personal data itself)."""

    __tablename__ = "privacy_requests"
    __table_args__ = (
        CheckConstraint(
            "kind IN ('access', 'rectification', 'erasure', 'restriction', 'objection', "
            "'lift_restriction')",
            name="kind_known",
        ),
        CheckConstraint("status IN ('open', 'completed', 'refused')", name="status_known"),
        CheckConstraint("due_at >= received_at", name="due_after_receipt"),
        Index("ix_privacy_requests_customer_id", "customer_id"),
        Index("ix_privacy_requests_status_due_at", "status", "due_at"),
        # A retention run finds closed requests past their period by this.
        Index("ix_privacy_requests_closed_at", "closed_at"),
    )

    id: Mapped[uuid_pk]
    kind: Mapped[str] = mapped_column(String(20))
    # The data subject, once found; null when the request matched nobody.
    customer_id: Mapped[uuid.UUID | None] = mapped_column(ForeignKey("customers.id"))
    received_at: Mapped[datetime]
    due_at: Mapped[datetime]
    # How the requester's identity was checked (e.g. "reply from the licensed e-mail").
    identity_verification: Mapped[str] = mapped_column(String(500))
    status: Mapped[str] = mapped_column(String(12), default=PrivacyRequestStatus.OPEN)
    recorded_by: Mapped[str] = mapped_column(String(200))
    recorded_at: Mapped[datetime] = mapped_column(default=utcnow)
    closed_by: Mapped[str | None] = mapped_column(String(200))
    closed_at: Mapped[datetime | None]
    outcome: Mapped[str | None] = mapped_column(String(2000))
