"""Customers: the data subjects behind licenses."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Index, String, func
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, created_at, uuid_pk


class Customer(Base):
    __tablename__ = "customers"
    __table_args__ = (
        # One customer per e-mail address, whatever its case (migration 0004).
        Index("uq_customers_email_lower", func.lower("email"), unique=True),
    )

    id: Mapped[uuid_pk]
    name: Mapped[str] = mapped_column(String(200))
    email: Mapped[str] = mapped_column(String(320), index=True)
    company: Mapped[str | None] = mapped_column(String(200))
    created_at: Mapped[created_at]
    anonymised_at: Mapped[datetime | None]
