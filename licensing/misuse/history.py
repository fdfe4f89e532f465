"""The typed history of one license that the misuse rules read.

Identifying values (``ip_key``, ``server_key``, ``fingerprint``) may be raw or keyed
hashes: the rules only compare them for equality within a license and count them.
``ip_key`` and ``server_key`` are hashed under the key of the observation's month, so
the same value has another hash in another month: they compare within one key period
(``key_period``, :func:`distinct_per_period`), never across two. Values hashed before
keys were kept per month are under the fixed keys: those form a key period of their
own, so that in the month of the upgrade a server seen before and after it is one
server in each period, not two in one.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta

from licensing.crypto.sealing import hash_period

ACTIVE = "active"
REVOKED = "revoked"
SUSPENDED = "suspended"
# The key period of values hashed under the fixed keys: one key for every month.
FIXED_KEY_PERIOD = "fixed"


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
    # Hashed under the fixed keys, before keys were kept per month (migration 0013): the
    # upgrade's month holds such rows beside rows hashed under its own key.
    fixed_key: bool = False

    @property
    def key_period(self) -> str:
        """What hashed ``ip_key`` and ``server_key``: the day's month's keys, or the fixed
        keys (:data:`FIXED_KEY_PERIOD`, one period whatever the month)."""
        return FIXED_KEY_PERIOD if self.fixed_key else hash_period(self.day)


def distinct_per_period(
    observations: Iterable[Observation], key: Callable[[Observation], str | None]
) -> int:
    """How many distinct values of ``key`` (a hash) the busiest key period saw.

    One value has one hash per month. Counted across months, a server seen on both
    sides of a month boundary would count twice and a license with one server could be
    taken for one with two; counted within each month, with the largest count taken, no
    value is ever counted twice. A window straddling two months may count fewer than it
    saw (values seen in one month each are not added up): a rule then errs towards not
    accusing a customer, never towards a false finding.
    """
    by_period: dict[str, set[str]] = {}
    for observation in observations:
        value = key(observation)
        if value is not None:
            by_period.setdefault(observation.key_period, set()).add(value)
    return max((len(values) for values in by_period.values()), default=0)


@dataclass(frozen=True, slots=True)
class LeasePresentation:
    """A check-in that carried the id of the lease the instance holds."""

    activation_id: str
    presented_jti: str
    newest_jti: str  # the newest lease issued to the activation before this check-in
    at: datetime
    network: str | None = None
    # The lease the server answered this check-in with (None: it sent none): a branch
    # that goes on from here holds it, a retry's answer that was lost leaves it unheld.
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
