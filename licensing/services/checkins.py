"""Check-ins: the heartbeat that keeps an activation alive and records usage.

Usage is one row per (activation, day, IP, server name, version), upserted with a
counter, not one row per check-in. A license whose processing is restricted is verified
as usual but leaves no IP and no server name behind.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, ActivationStatus, UsageObservation
from licensing.privacy.pseudonymise import ip_network_prefix


@dataclass(frozen=True, slots=True)
class CheckIn:
    """What an instance reported; ``ip`` is the address the server observed."""

    activation_id: uuid.UUID | None
    fingerprint: str | None
    server_name: str
    product_version: str
    usage: Mapping[str, int]
    ip: str | None


@dataclass(frozen=True, slots=True)
class LiveActivation:
    id: uuid.UUID
    fingerprint: str
    activated_at: datetime


def record_check_in(
    session: Session,
    sealer: Sealer,
    *,
    license_id: uuid.UUID,
    processing_restricted: bool,
    report: CheckIn,
    now: datetime,
) -> LiveActivation | None:
    """Touch the instance's live activation and upsert today's observation.

    Returns the activation, or None when the instance has no live activation (then
    nothing is written).
    """
    server_name = None if processing_restricted else report.server_name
    conditions = [Activation.license_id == license_id, Activation.status == ActivationStatus.ACTIVE]
    if report.activation_id is not None:
        conditions.append(Activation.id == report.activation_id)
    if report.fingerprint is not None:
        conditions.append(Activation.fingerprint == report.fingerprint)
    touched = session.execute(
        update(Activation)
        .where(and_(*conditions))
        .values(
            last_check_in_at=now, server_name=server_name, product_version=report.product_version
        )
        .returning(Activation.id, Activation.fingerprint, Activation.activated_at)
    ).first()
    if touched is None:
        return None
    activation = LiveActivation(id=touched[0], fingerprint=touched[1], activated_at=touched[2])
    _upsert_observation(
        session,
        sealer,
        activation_id=activation.id,
        license_id=license_id,
        ip=None if processing_restricted else report.ip,
        server_name=server_name,
        product_version=report.product_version,
        usage=report.usage,
        now=now,
    )
    return activation


def _upsert_observation(
    session: Session,
    sealer: Sealer,
    *,
    activation_id: uuid.UUID,
    license_id: uuid.UUID,
    ip: str | None,
    server_name: str | None,
    product_version: str,
    usage: Mapping[str, int],
    now: datetime,
) -> None:
    # The unique key is a keyed digest, so it survives pseudonymisation of the raw values.
    key = sealer.keyed_hash(
        "observation", "\x00".join((ip or "", server_name or "", product_version)).encode()
    )
    values: dict[str, Any] = {
        "activation_id": activation_id,
        "license_id": license_id,
        "day": now.date(),
        "observation_key": key,
        "ip": ip,
        "ip_hash": sealer.keyed_hash("ip", ip.encode()) if ip else None,
        "ip_prefix": ip_network_prefix(ip) if ip else None,
        "server_name": server_name,
        "server_name_hash": sealer.keyed_hash("server-name", server_name.encode())
        if server_name
        else None,
        "product_version": product_version,
        "count": 1,
        "first_seen": now,
        "last_seen": now,
        "usage": dict(usage),
    }
    dialect = session.get_bind().dialect.name
    insert: Any = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(UsageObservation).values(**values)
    statement = statement.on_conflict_do_update(
        index_elements=["activation_id", "day", "observation_key"],
        set_={
            "count": UsageObservation.count + 1,
            "last_seen": statement.excluded.last_seen,
            # The latest report wins: counters are levels (mailboxes), not increments.
            "usage": statement.excluded.usage if usage else UsageObservation.usage,
        },
    )
    session.execute(statement)
