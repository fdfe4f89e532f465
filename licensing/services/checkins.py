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

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.privacy.pseudonymise import ip_network_prefix
from licensing.services import statements
from licensing.services.replay import DatabaseReplayStore, NonceClaim, NonceReplayed


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
    migration_until: datetime | None


def record_check_in(
    session: Session,
    sealer: Sealer,
    *,
    license_id: uuid.UUID,
    processing_restricted: bool,
    report: CheckIn,
    now: datetime,
    nonce: NonceClaim | None = None,
) -> LiveActivation | None:
    """Touch the instance's live activation and upsert today's observation.

    Returns the activation, or None when the instance has no live activation (then
    nothing is written). With ``nonce``, the nonce is used up first and a replay raises
    :class:`NonceReplayed` with nothing written; on PostgreSQL all of it is one statement.
    """
    server_name = None if processing_restricted else report.server_name
    ip = None if processing_restricted else report.ip
    connection = session.connection()
    params = {
        "p_license_id": license_id,
        "p_activation_id": report.activation_id,
        "p_fingerprint": report.fingerprint,
        "p_now": now,
        "p_server_name": server_name,
        "p_product_version": report.product_version,
    }
    observation = _observation(sealer, ip=ip, server_name=server_name, report=report, now=now)
    shape = {
        "by_id": report.activation_id is not None,
        "by_fingerprint": report.fingerprint is not None,
    }
    if nonce is not None and connection.dialect.name == "postgresql":
        row = connection.execute(
            statements.check_in_postgresql(**shape, with_usage=bool(report.usage)),
            params
            | observation
            | {"p_key_id": nonce.key_id, "p_nonce": nonce.nonce, "p_expires_at": nonce.expires_at},
        ).one()
        if not row.accepted:
            raise NonceReplayed()
        if row.id is None:
            return None
        return LiveActivation(
            row.id, row.fingerprint, row.activated_at, row.seats_used, row.migration_until
        )
    if nonce is not None and not DatabaseReplayStore.accept_with(connection, nonce):
        raise NonceReplayed()
    touched = connection.execute(statements.touch_activation(**shape), params).first()
    if touched is None:
        return None
    activation = LiveActivation(*touched)
    connection.execute(
        statements.upsert_observation(connection.dialect.name, with_usage=bool(report.usage)),
        observation | {"p_activation_id": activation.id, "p_license_id": license_id},
    )
    return activation


def _observation(
    sealer: Sealer, *, ip: str | None, server_name: str | None, report: CheckIn, now: datetime
) -> dict[str, Any]:
    """The observation's values: raw fields, their keyed hashes and the network prefix."""
    # The unique key is a keyed digest, so it survives pseudonymisation of the raw values.
    key = sealer.keyed_hash(
        "observation", "\x00".join((ip or "", server_name or "", report.product_version)).encode()
    )
    return {
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
    }
