"""Products, their releases, and editions (the licensing policy a license is sold under)."""

from __future__ import annotations

import uuid
from datetime import datetime

from sqlalchemy import CheckConstraint, ForeignKey, String, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column, relationship

from licensing.models.base import Base, JSONType, created_at, uuid_pk


class Product(Base):
    __tablename__ = "products"

    id: Mapped[uuid_pk]
    code: Mapped[str] = mapped_column(String(64), unique=True)
    name: Mapped[str] = mapped_column(String(200))
    created_at: Mapped[created_at]

    releases: Mapped[list[Release]] = relationship(
        back_populates="product", order_by="Release.released_at"
    )
    editions: Mapped[list[Edition]] = relationship(
        back_populates="product", order_by="Edition.code"
    )


class Release(Base):
    __tablename__ = "releases"
    __table_args__ = (UniqueConstraint("product_id", "version"),)

    id: Mapped[uuid_pk]
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), index=True)
    version: Mapped[str] = mapped_column(String(64))
    released_at: Mapped[datetime]
    created_at: Mapped[created_at]

    product: Mapped[Product] = relationship(back_populates="releases")


class Edition(Base):
    __tablename__ = "editions"
    __table_args__ = (
        UniqueConstraint("product_id", "code"),
        CheckConstraint("max_activations >= 1", name="max_activations_positive"),
        CheckConstraint("migration_window_days >= 0", name="migration_window_not_negative"),
        CheckConstraint("migration_allowance >= 0", name="migration_allowance_not_negative"),
        CheckConstraint("check_in_interval_seconds >= 60", name="check_in_interval_minimum"),
        CheckConstraint("dead_after_intervals >= 1", name="dead_after_positive"),
        CheckConstraint("offline_grace_days >= 1", name="offline_grace_positive"),
        CheckConstraint("term_days IS NULL OR term_days >= 1", name="term_positive"),
        CheckConstraint("upgrade_protection_months >= 0", name="upgrade_protection_not_negative"),
    )

    id: Mapped[uuid_pk]
    product_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("products.id"), index=True)
    code: Mapped[str] = mapped_column(String(64))
    name: Mapped[str] = mapped_column(String(200))
    max_activations: Mapped[int] = mapped_column(default=1)
    migration_window_days: Mapped[int] = mapped_column(default=30)
    migration_allowance: Mapped[int] = mapped_column(default=1)
    check_in_interval_seconds: Mapped[int] = mapped_column(default=86_400)
    dead_after_intervals: Mapped[int] = mapped_column(default=3)
    offline_grace_days: Mapped[int] = mapped_column(default=7)
    entitlements: Mapped[list[str]] = mapped_column(JSONType, default=list)
    term_days: Mapped[int | None]
    upgrade_protection_months: Mapped[int] = mapped_column(default=12)
    created_at: Mapped[created_at]

    product: Mapped[Product] = relationship(back_populates="editions")
