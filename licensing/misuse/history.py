"""The typed history of one license that the misuse rules read.

Identifying values (``ip_key``, ``server_key``, ``fingerprint``) may be raw or keyed
hashes: the rules only compare them for equality within a license and count them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

ACTIVE = "active"
REVOKED = "revoked"
SUSPENDED = "suspended"


@dataclass(frozen=True, slots=True)
class ActivationTimeline:
    """One seat of the license: when it was taken, released and seen."""

    activation_id: str  # the activation's UUID as text: evidence stays JSON-able
    fingerprint: str
    activated_at: datetime
    released_at: datetime | None = None
    release_reason: str | None = None
    first_seen: datetime | None = None
    last_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class Observation:
    """Check-ins of one activation on one day from one address, server name and version."""

    activation_id: str
    day: date
    first_seen: datetime
    last_seen: datetime
    count: int
    ip_key: str | None = None
    network: str | None = None  # the /24 (IPv4) or /48 (IPv6) prefix, or its keyed hash
    server_key: str | None = None
    product_version: str | None = None


@dataclass(frozen=True, slots=True)
class LeasePresentation:
    """A check-in that carried the id of the lease the instance holds."""

    activation_id: str
    presented_jti: str
    newest_jti: str  # the newest lease issued to the activation before this check-in
    at: datetime
    network: str | None = None
    issued_jti: str | None = None

    @property
    def superseded(self) -> bool:
        return self.presented_jti != self.newest_jti


@dataclass(frozen=True, slots=True)
class SignatureFailureCount:
    """Invalid signatures counted for one key id in one time bucket."""

    key_id: str
    bucket_start: datetime
    count: int


@dataclass(frozen=True, slots=True)
class LicenseHistory:
    """What the rules know about one license: its terms, its seats and their recent use."""

    license_id: str  # the license's UUID as text
    status: str  # active | suspended | revoked
    allowed_activations: int
    migration_window: timedelta
    check_in_interval: timedelta
    status_changed_at: datetime | None = None  # when it became suspended or revoked
    upgrade_protection_until: datetime | None = None
    # Release dates of the product's versions: what upgrade protection covers is decided
    # by when a release came out, not by its number.
    release_dates: Mapping[str, datetime] = field(default_factory=dict)
    activations: tuple[ActivationTimeline, ...] = ()
    observations: tuple[Observation, ...] = ()
    lease_presentations: tuple[LeasePresentation, ...] = ()
    signature_failures: tuple[SignatureFailureCount, ...] = ()

    def observations_since(self, since: datetime) -> list[Observation]:
        return [o for o in self.observations if o.last_seen >= since]
