"""Licenses: what a customer bought, under which edition, and its state."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum

from sqlalchemy import CheckConstraint, ForeignKey, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from licensing.models.base import Base, created_at, uuid_pk
from licensing.models.catalog import Edition, Product
from licensing.models.customers import Customer
from licensing.timeutil import utcnow


class LicenseStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"
    REVOKED = "revoked"


class License(Base):
    __tablename__ = "licenses"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'suspended', 'revoked')", name="status_known"),
        CheckConstraint(
            "max_activations_override IS NULL OR max_activations_override >= 1",
            name="max_activations_override_positive",
        ),
    )

    id: Mapped[uuid_pk]
    # Only the public key id, the sealed key and a hint are stored (PROTOCOL.md §1).
    key_id: Mapped[str] = mapped_column(String(22), unique=True)
    sealed_key: Mapped[bytes] = mapped_column(LargeBinary)
    key_hint: Mapped[str] = mapped_column(String(5))
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), index=True)
    edition_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("editions.id"), index=True)
    customer_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("customers.id"), index=True)
    selling_partner_id: Mapped[uuid.UUID | None] = mapped_column(
        ForeignKey("partners.id"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default=LicenseStatus.ACTIVE)
    status_reason: Mapped[str | None] = mapped_column(String(500))
    status_changed_at: Mapped[datetime] = mapped_column(default=utcnow)
    issued_at: Mapped[datetime] = mapped_column(default=utcnow)
    # Indexed for the dashboard's "ending in 30 days" lists, a range of a few licenses
    # out of all of them; licenses are not written per check-in, so the indexes are cheap.
    expires_at: Mapped[datetime | None] = mapped_column(index=True)
    upgrade_protection_until: Mapped[datetime | None] = mapped_column(index=True)
    max_activations_override: Mapped[int | None]
    processing_restricted: Mapped[bool] = mapped_column(default=False)
    created_at: Mapped[created_at]

    product: Mapped[Product] = relationship()
    edition: Mapped[Edition] = relationship()
    customer: Mapped[Customer] = relationship()

    def is_expired(self, now: datetime) -> bool:
        return self.expires_at is not None and self.expires_at <= now
