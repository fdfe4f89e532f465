"""Rows the misuse scan reads, written straight into the tables: seats, daily
observations (raw, or pseudonymised as the retention job leaves them), leases presented
out of turn and invalid-signature counts."""

from __future__ import annotations

import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import Activation, UsageObservation
from licensing.models.misuse import LeasePresentation, SignatureFailure

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)


def keyed(kind: str, value: str) -> bytes:
    return hmac.new(b"test hash key", f"{kind}:{value}".encode(), hashlib.sha256).digest()


def seat(
    session: Session,
    license_id: uuid.UUID,
    *,
    activated_days_ago: float,
    released_days_ago: float | None = None,
    release_reason: str | None = None,
    now: datetime = NOW,
) -> Activation:
    activation = Activation(
        license_id=license_id,
        fingerprint=uuid.uuid4().hex,
        server_name="app-1.example.com",
        product_version="2.0.0",
        status="active" if released_days_ago is None else "released",
        activated_at=now - activated_days_ago * DAY,
        last_check_in_at=now - (released_days_ago or 0) * DAY - HOUR,
        released_at=None if released_days_ago is None else now - released_days_ago * DAY,
        release_reason=release_reason,
    )
    session.add(activation)
    session.flush()
    return activation


def daily(
    session: Session,
    activation: Activation,
    from_days_ago: int,
    until_days_ago: int = 0,
    *,
    network: str = "198.51.100",
    host: int = 7,
    server: str = "app-1.example.com",
    version: str = "2.0.0",
    pseudonymised: bool = False,
    now: datetime = NOW,
) -> None:
    """Hourly check-ins of one instance, one row per day, days counted back from ``now``.

    ``network`` is the first three octets of an IPv4 address. Pseudonymised rows keep
    only the keyed hashes and the /24 prefix, as the retention job leaves them.
    """
    ip = f"{network}.{host}"
    for back in range(from_days_ago, until_days_ago - 1, -1):
        day = (now - back * DAY).date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        session.add(
            UsageObservation(
                activation_id=activation.id,
                license_id=activation.license_id,
                day=day,
                observation_key=keyed("observation", f"{ip}|{server}|{version}"),
                ip=None if pseudonymised else ip,
                ip_hash=keyed("ip", ip),
                ip_prefix=f"{network}.0/24",
                server_name=None if pseudonymised else server,
                server_name_hash=keyed("server-name", server),
                product_version=version,
                count=24,
                first_seen=midnight,
                last_seen=midnight + 23 * HOUR,
                pseudonymised_at=now if pseudonymised else None,
            )
        )
    session.flush()


def lease_presented(
    session: Session,
    activation: Activation,
    presented: str,
    newest: str,
    at: datetime,
    issued: str | None = None,
) -> None:
    session.add(
        LeasePresentation(
            license_id=activation.license_id,
            activation_id=activation.id,
            presented_jti=presented,
            newest_jti=newest,
            issued_jti=issued,
            at=at,
            ip_prefix="198.51.100.0/24",
            ip_hash=keyed("ip", "198.51.100.7"),
        )
    )
    session.flush()


def signature_failures(session: Session, key_id: str, at: datetime, count: int) -> None:
    session.add(SignatureFailure(key_id=key_id, bucket_start=at, count=count))
    session.flush()


def check_in(
    session: Session,
    activation: Activation,
    at: datetime,
    *,
    network: str = "198.51.100",
    host: int = 7,
    server: str = "app-1.example.com",
    version: str = "2.0.0",
) -> None:
    """One check-in at ``at``, as the server records it: the day's row for its address,
    server name and version upserted, and the seat's last check-in moved."""
    ip = f"{network}.{host}"
    key = keyed("observation", f"{ip}|{server}|{version}")
    row = session.scalar(
        select(UsageObservation).where(
            UsageObservation.activation_id == activation.id,
            UsageObservation.day == at.date(),
            UsageObservation.observation_key == key,
        )
    )
    if row is None:
        session.add(
            UsageObservation(
                activation_id=activation.id,
                license_id=activation.license_id,
                day=at.date(),
                observation_key=key,
                ip=ip,
                ip_hash=keyed("ip", ip),
                ip_prefix=f"{network}.0/24",
                server_name=server,
                server_name_hash=keyed("server-name", server),
                product_version=version,
                count=1,
                first_seen=at,
                last_seen=at,
            )
        )
    else:
        row.count += 1
        row.last_seen = max(row.last_seen, at)
    activation.last_check_in_at = max(activation.last_check_in_at, at)
    session.flush()
