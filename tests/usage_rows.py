"""Usage rows as the check-in path and the retention job leave them: raw, or pseudonymised."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer, hash_period
from licensing.models import Activation, UsageObservation
from licensing.privacy.pseudonymise import ip_hash, ip_network_prefix, server_name_hash


def make_seat(session: Session, license_id: uuid.UUID, server_name: str | None) -> Activation:
    activation = Activation(
        license_id=license_id,
        fingerprint=uuid.uuid4().hex,
        server_name=server_name,
        product_version="2.0.0",
        status="active",
        activated_at=datetime(2026, 1, 1, tzinfo=UTC),
        last_check_in_at=datetime(2026, 1, 2, tzinfo=UTC),
    )
    session.add(activation)
    session.flush()
    return activation


def observe(
    session: Session,
    sealer: Sealer,
    activation: Activation,
    *,
    ip: str,
    server: str,
    at: datetime,
    pseudonymised: bool = False,
) -> UsageObservation:
    """One day's row of ``activation``; pseudonymised, only its hashes and prefix are kept."""
    row = UsageObservation(
        activation_id=activation.id,
        license_id=activation.license_id,
        day=at.date(),
        observation_key=sealer.period_keyed_hash(
            "observation", hash_period(at.date()), f"{ip}|{server}".encode()
        ),
        ip=None if pseudonymised else ip,
        ip_hash=ip_hash(sealer, ip, period=hash_period(at.date())),
        ip_prefix=ip_network_prefix(ip),
        server_name=None if pseudonymised else server,
        server_name_hash=server_name_hash(sealer, server, period=hash_period(at.date())),
        product_version="2.0.0",
        first_seen=at,
        last_seen=at,
        pseudonymised_at=at if pseudonymised else None,
    )
    session.add(row)
    session.flush()
    return row
