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

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.privacy.pseudonymise import ip_network_prefix
from licensing.services import statements


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
    seats_used: int


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
    connection = session.connection()
    touched = connection.execute(
        statements.touch_activation(
            by_id=report.activation_id is not None, by_fingerprint=report.fingerprint is not None
        ),
        {
            "p_license_id": license_id,
            "p_activation_id": report.activation_id,
            "p_fingerprint": report.fingerprint,
            "p_now": now,
            "p_server_name": server_name,
            "p_product_version": report.product_version,
        },
    ).first()
    if touched is None:
        return None
    activation = LiveActivation(
        id=touched[0], fingerprint=touched[1], activated_at=touched[2], seats_used=touched[3]
    )
    ip = None if processing_restricted else report.ip
    # The unique key is a keyed digest, so it survives pseudonymisation of the raw values.
    key = sealer.keyed_hash(
        "observation", "\x00".join((ip or "", server_name or "", report.product_version)).encode()
    )
    connection.execute(
        statements.upsert_observation(connection.dialect.name, with_usage=bool(report.usage)),
        {
            "p_activation_id": activation.id,
            "p_license_id": license_id,
            "p_day": now.date(),
            "p_observation_key": key,
            "p_ip": ip,
            "p_ip_hash": sealer.keyed_hash("ip", ip.encode()) if ip else None,
            "p_ip_prefix": ip_network_prefix(ip) if ip else None,
            "p_server_name": server_name,
            "p_server_name_hash": sealer.keyed_hash("server-name", server_name.encode())
            if server_name
            else None,
            "p_product_version": report.product_version,
            "p_first_seen": now,
            "p_last_seen": now,
            "p_usage": dict(report.usage),
        },
    )
    return activation
