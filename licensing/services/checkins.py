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
from licensing.services.group_commit import GroupCommit
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


@dataclass(frozen=True, slots=True)
class CheckInRow:
    """One check-in's writes, ready for the batch statement."""

    license_id: uuid.UUID
    activation_id: uuid.UUID | None
    fingerprint: str | None
    nonce: NonceClaim | None
    now: datetime
    observation: dict[str, Any]


@dataclass(frozen=True, slots=True)
class Recorded:
    """A batched check-in's outcome: replayed, or the live activation (None: not active)."""

    replayed: bool
    activation: LiveActivation | None = None


CheckInGroup = GroupCommit[CheckInRow, Recorded]


def record_check_in(
    session: Session,
    sealer: Sealer,
    *,
    license_id: uuid.UUID,
    processing_restricted: bool,
    report: CheckIn,
    now: datetime,
    nonce: NonceClaim | None = None,
    group: CheckInGroup | None = None,
) -> LiveActivation | None:
    """Touch the instance's live activation and upsert today's observation.

    Returns the activation, or None when the instance has no live activation (then
    nothing is written). With ``nonce``, the nonce is used up first and a replay raises
    :class:`NonceReplayed` with nothing written.

    With ``group`` on PostgreSQL, the check-in joins a group commit: it is written with
    the check-ins of other threads in one statement and is **committed** when this
    returns. Otherwise the writes wait for the caller's commit.
    """
    server_name = None if processing_restricted else report.server_name
    ip = None if processing_restricted else report.ip
    observation = _observation(sealer, ip=ip, server_name=server_name, report=report, now=now)
    if group is not None and session.get_bind().dialect.name == "postgresql":
        row = CheckInRow(
            license_id, report.activation_id, report.fingerprint, nonce, now, observation
        )
        recorded = group.record(session, row)
        if recorded.replayed:
            raise NonceReplayed()
        return recorded.activation
    connection = session.connection()
    if nonce is not None and not DatabaseReplayStore.accept_with(connection, nonce):
        raise NonceReplayed()
    shape = {
        "by_id": report.activation_id is not None,
        "by_fingerprint": report.fingerprint is not None,
    }
    params = {
        "p_license_id": license_id,
        "p_activation_id": report.activation_id,
        "p_fingerprint": report.fingerprint,
        "p_now": now,
        "p_server_name": server_name,
        "p_product_version": report.product_version,
    }
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
