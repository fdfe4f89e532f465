"""Partners (resellers, hosting lease providers), their API keys, and what they were told."""

from __future__ import annotations

import uuid
from datetime import datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import CheckConstraint, ForeignKey, Index, LargeBinary, String
from sqlalchemy.orm import Mapped, mapped_column, relationship

from licensing.models.base import Base, BigIntegerKey, JSONType, created_at, uuid_pk
from licensing.models.catalog import Product


class PartnerKind(StrEnum):
    RESELLER = "reseller"
    LEASE_PROVIDER = "lease_provider"


class PartnerStatus(StrEnum):
    ACTIVE = "active"
    SUSPENDED = "suspended"


class Scope(StrEnum):
    LICENSES_CHECK = "licenses:check"
    RELEASES_READ = "releases:read"


class PartnerProduct(Base):
    """A product the partner is registered to sell (and so may ask about)."""

    __tablename__ = "partner_products"

    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), primary_key=True)
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), primary_key=True)
    created_at: Mapped[created_at]

    product: Mapped[Product] = relationship()


class Partner(Base):
    __tablename__ = "partners"
    __table_args__ = (
        CheckConstraint("kind IN ('reseller', 'lease_provider')", name="kind_known"),
        CheckConstraint("status IN ('active', 'suspended')", name="status_known"),
    )

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(200), unique=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default=PartnerStatus.ACTIVE)
    # CIDRs (IPv4 and IPv6); empty means any address.
    allowed_networks: Mapped[list[str]] = mapped_column(JSONType, default=list)
    # e.g. "120/minute"; None means the server's default partner limit.
    rate_limit: Mapped[str | None] = mapped_column(String(64))
    created_at: Mapped[created_at]

    products: Mapped[list[PartnerProduct]] = relationship(cascade="all, delete-orphan")


class PartnerKey(Base):
    """An API key: ``lpk_<key_id>_<secret>``; only a keyed digest of the secret is kept."""

    __tablename__ = "partner_keys"

    id: Mapped[uuid_pk]
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"), index=True)
    key_id: Mapped[str] = mapped_column(String(16), unique=True)
    digest: Mapped[bytes] = mapped_column(LargeBinary(32))
    label: Mapped[str | None] = mapped_column(String(200))
    scopes: Mapped[list[str]] = mapped_column(JSONType, default=list)
    created_at: Mapped[created_at]
    expires_at: Mapped[datetime | None]
    revoked_at: Mapped[datetime | None]
    last_used_at: Mapped[datetime | None]

    partner: Mapped[Partner] = relationship()


class Disclosure(Base):
    """What was shown to which partner about which license, when and why."""

    __tablename__ = "disclosures"
    __table_args__ = (
        Index("ix_disclosures_partner_id_disclosed_at", "partner_id", "disclosed_at"),
        Index("ix_disclosures_license_id_disclosed_at", "license_id", "disclosed_at"),
    )

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    partner_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("partners.id"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id"))
    partner_key_id: Mapped[str] = mapped_column(String(16))
    fields: Mapped[list[str]] = mapped_column(JSONType)
    purpose: Mapped[str] = mapped_column(String(64))
    request_id: Mapped[str] = mapped_column(String(64))
    disclosed_at: Mapped[datetime]
    details: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
