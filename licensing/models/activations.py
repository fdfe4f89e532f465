"""Activations (a seat taken by one installed instance) and their usage observations."""

from __future__ import annotations

import uuid
from datetime import date, datetime
from enum import StrEnum
from typing import Any

from sqlalchemy import (
    CheckConstraint,
    ForeignKey,
    Index,
    LargeBinary,
    String,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from licensing.models.base import Base, BigIntegerKey, JSONType, uuid_pk
from licensing.timeutil import utcnow


class ActivationStatus(StrEnum):
    ACTIVE = "active"
    RELEASED = "released"


class ReleaseReason(StrEnum):
    DEACTIVATED = "deactivated"
    CULLED = "culled"
    STAFF = "staff"
    MIGRATION = "migration"


class Activation(Base):
    __tablename__ = "activations"
    __table_args__ = (
        CheckConstraint("status IN ('active', 'released')", name="status_known"),
        CheckConstraint(
            "release_reason IS NULL OR release_reason IN "
            "('deactivated', 'culled', 'staff', 'migration')",
            name="release_reason_known",
        ),
        Index("ix_activations_license_id_status", "license_id", "status"),
        # One live activation per fingerprint and license: re-activation is idempotent.
        Index(
            "uq_activations_live_fingerprint",
            "license_id",
            "fingerprint",
            unique=True,
            sqlite_where=text("status = 'active'"),
            postgresql_where=text("status = 'active'"),
        ),
        # No index covers a column a check-in writes (last_check_in_at, server_name,
        # product_version): PostgreSQL can then update the row in place (a HOT update)
        # instead of adding an entry to every index on each check-in. Culling, a periodic
        # job, reaches live activations per license through ix_activations_license_id_status
        # and filters last_check_in_at on the heap rows.
        # Fillfactor 80: a check-in rewrites the whole row (the server name dominates its
        # size), so a fifth of each page is left free for the new versions of its rows.
        {"postgresql_with": {"fillfactor": 80}},
    )

    id: Mapped[uuid_pk]
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id"))
    fingerprint: Mapped[str] = mapped_column(String(128))
    # Null when the license's processing is restricted.
    server_name: Mapped[str | None] = mapped_column(String(253))
    product_version: Mapped[str] = mapped_column(String(64))
    platform: Mapped[str | None] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ActivationStatus.ACTIVE)
    activated_at: Mapped[datetime] = mapped_column(default=utcnow)
    last_check_in_at: Mapped[datetime] = mapped_column(default=utcnow)
    released_at: Mapped[datetime | None]
    release_reason: Mapped[str | None] = mapped_column(String(16))
    # Set when the seat was granted under the edition's migration allowance.
    migration_until: Mapped[datetime | None]
    # The id of the newest lease issued to this activation (the lease chain): an instance
    # that presents another one holds a superseded lease.
    lease_jti: Mapped[str | None] = mapped_column(String(64))


class UsageObservation(Base):
    """One row per (activation, day, IP, server name, version), upserted on each check-in.

    ``observation_key`` is a keyed digest of (IP, server name, version): the unique key
    stays stable when the raw values are later pseudonymised or were never stored.
    """

    __tablename__ = "usage_observations"
    __table_args__ = (
        UniqueConstraint("activation_id", "day", "observation_key"),
        Index("ix_usage_observations_license_id_day", "license_id", "day"),
        # Staff search finds a server name, an address or a network in every license's
        # usage (services/staff_search.py). These columns are written when a row is
        # inserted and never changed by the day's upsert, so the upsert stays a HOT update.
        Index("ix_usage_observations_ip_hash", "ip_hash"),
        Index("ix_usage_observations_server_name_hash", "server_name_hash"),
        Index("ix_usage_observations_ip_prefix", "ip_prefix"),
        CheckConstraint("count >= 1", name="count_positive"),
        # count, last_seen and usage (what a repeated check-in changes) are not indexed, so
        # the upsert is a HOT update; fillfactor 90 leaves room for it: the row is wider
        # than an activation, but only the day's row of each observation key is updated.
        {"postgresql_with": {"fillfactor": 90}},
    )

    id: Mapped[int] = mapped_column(BigIntegerKey, primary_key=True, autoincrement=True)
    activation_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("activations.id"))
    license_id: Mapped[uuid.UUID] = mapped_column(ForeignKey("licenses.id"))
    day: Mapped[date]
    observation_key: Mapped[bytes] = mapped_column(LargeBinary(32))
    ip: Mapped[str | None] = mapped_column(String(45))
    ip_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    ip_prefix: Mapped[str | None] = mapped_column(String(49))
    server_name: Mapped[str | None] = mapped_column(String(253))
    server_name_hash: Mapped[bytes | None] = mapped_column(LargeBinary(32))
    product_version: Mapped[str] = mapped_column(String(64))
    count: Mapped[int] = mapped_column(default=1)
    first_seen: Mapped[datetime] = mapped_column(default=utcnow)
    last_seen: Mapped[datetime] = mapped_column(default=utcnow)
    usage: Mapped[dict[str, Any]] = mapped_column(JSONType, default=dict)
    pseudonymised_at: Mapped[datetime | None]
