"""What the call-home hot path needs to know about a license, read once and cached."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from packaging.version import InvalidVersion, Version
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.models import Edition, License, Product
from licensing.services import catalog, seats
from licensing.services.licenses import TABLE as LICENSE_TABLE
from licensing.services.upgrades import ReleaseInfo


@dataclass(frozen=True, slots=True)
class LicenseState:
    """An immutable snapshot of a license, its edition's policy and its signing secret."""

    id: uuid.UUID
    key_id: str
    signing_secret: bytes
    status: str
    product_id: uuid.UUID
    product_code: str
    edition_code: str
    expires_at: datetime | None
    upgrade_protection_until: datetime | None
    processing_restricted: bool
    max_activations: int
    migration_allowance: int
    migration_window: timedelta
    check_in_interval: timedelta
    offline_grace: timedelta
    entitlements: tuple[str, ...]


def load_license_state(session: Session, sealer: Sealer, key_id: str) -> LicenseState | None:
    row = session.execute(
        select(License, Edition, Product.code)
        .join(Edition, License.edition_id == Edition.id)
        .join(Product, License.product_id == Product.id)
        .where(License.key_id == key_id)
    ).first()
    if row is None:
        return None
    license, edition, product_code = row
    normalised = sealer.open(license.sealed_key, table=LICENSE_TABLE, row_id=license.id)
    return LicenseState(
        id=license.id,
        key_id=license.key_id,
        signing_secret=license_keys.signing_secret(normalised.decode("ascii")),
        status=license.status,
        product_id=license.product_id,
        product_code=product_code,
        edition_code=edition.code,
        expires_at=license.expires_at,
        upgrade_protection_until=license.upgrade_protection_until,
        processing_restricted=license.processing_restricted,
        max_activations=seats.allowed(license, edition),
        migration_allowance=edition.migration_allowance,
        migration_window=timedelta(days=edition.migration_window_days),
        check_in_interval=timedelta(seconds=edition.check_in_interval_seconds),
        offline_grace=timedelta(days=edition.offline_grace_days),
        entitlements=tuple(edition.entitlements),
    )


def load_releases(session: Session, product_id: uuid.UUID) -> tuple[ReleaseInfo, ...]:
    """The product's releases as the verdict and upgrade rules compare them."""
    releases = []
    for release in catalog.product_releases(session, product_id):
        try:
            releases.append(ReleaseInfo(Version(release.version), release.released_at))
        except InvalidVersion:  # stored versions were validated; skip rather than fail a check-in
            continue
    return tuple(releases)
