"""The misuse rules' input: ``LicenseHistory`` values built from the database, a chunk of
licenses at a time.

A handful of set-based Core selects per chunk, never one per license, each returning
tuples: ORM objects cost too much at millions of observations. Addresses and server names
are read as their keyed hashes, which raw and pseudonymised rows both hold, so the rules
decide the same before and after the raw retention period ends.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Mapping, Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from licensing.misuse.history import (
    ActivationTimeline,
    LeasePresentation,
    LicenseHistory,
    Observation,
    SignatureFailureCount,
)
from licensing.models import Activation, Edition, License, UsageObservation
from licensing.models.misuse import LeasePresentation as LeasePresentationRow
from licensing.models.misuse import SignatureFailure
from licensing.services import catalog, seats


class _Terms(NamedTuple):
    """What the license and its edition say, as one select returns it."""

    key_id: str
    product_id: uuid.UUID
    status: str
    status_changed_at: datetime | None
    upgrade_protection_until: datetime | None
    max_activations_override: int | None
    migration_window_days: int
    max_activations: int
    check_in_interval_seconds: int


class HistorySource:
    """Builds histories as of ``now`` over ``lookback``, remembering the products' release
    dates between chunks (a scan reads them once per product, not once per chunk)."""

    def __init__(self, session: Session, *, now: datetime, lookback: timedelta) -> None:
        self.session = session
        self.now = now
        self.since = now - lookback
        self._releases: dict[uuid.UUID, dict[str, datetime]] = {}

    def histories(self, license_ids: Sequence[uuid.UUID]) -> list[LicenseHistory]:
        """One history per license that exists among ``license_ids``, in their order."""
        terms = self._terms(license_ids)
        if not terms:
            return []
        ids = list(terms)
        # MIGRATION_OVERSTAY measures side-by-side time longer than the migration window
        # that ends in the lookback: the seats' check-ins are read that much further back.
        longest_window = max(term.migration_window_days for term in terms.values())
        seats_since = self.since - timedelta(days=longest_window)
        observations = self._observations(ids)
        self._add_seat_history(ids, seats_since, observations)
        timelines = self._activations(ids, seats_since, observations)
        leases = self._lease_presentations(ids)
        failures = self._signature_failures({t.key_id: i for i, t in terms.items()})
        return [
            LicenseHistory(
                license_id=str(license_id),
                status=term.status,
                allowed_activations=seats.allowed_by(
                    term.max_activations_override, term.max_activations
                ),
                migration_window=timedelta(days=term.migration_window_days),
                check_in_interval=timedelta(seconds=term.check_in_interval_seconds),
                status_changed_at=term.status_changed_at,
                upgrade_protection_until=term.upgrade_protection_until,
                release_dates=self._release_dates(term.product_id),
                activations=tuple(timelines.get(license_id, ())),
                observations=tuple(observations.get(license_id, ())),
                lease_presentations=tuple(leases.get(license_id, ())),
                signature_failures=tuple(failures.get(license_id, ())),
            )
            for license_id, term in terms.items()
        ]

    def _terms(self, license_ids: Sequence[uuid.UUID]) -> dict[uuid.UUID, _Terms]:
        rows = self.session.execute(
            select(
                License.id,
                License.key_id,
                License.product_id,
                License.status,
                License.status_changed_at,
                License.upgrade_protection_until,
                License.max_activations_override,
                Edition.migration_window_days,
                Edition.max_activations,
                Edition.check_in_interval_seconds,
            )
            .join(Edition, Edition.id == License.edition_id)
            .where(License.id.in_(license_ids))
        )
        found = {row[0]: _Terms._make(row[1:]) for row in rows}
        return {license_id: found[license_id] for license_id in license_ids if license_id in found}

    def _release_dates(self, product_id: uuid.UUID) -> dict[str, datetime]:
        if product_id not in self._releases:
            self._releases[product_id] = {
                release.version: release.released_at
                for release in catalog.product_releases(self.session, product_id)
            }
        return self._releases[product_id]

    def _observations(self, ids: list[uuid.UUID]) -> dict[uuid.UUID, list[Observation]]:
        """The lookback's observations, whole: who checked in from where, as what."""
        o = UsageObservation
        rows = self.session.execute(
            select(
                o.license_id,
                o.activation_id,
                o.day,
                o.first_seen,
                o.last_seen,
                o.count,
                o.ip_hash,
                o.ip_prefix,
                o.server_name_hash,
                o.product_version,
            ).where(o.license_id.in_(ids), o.day >= self.since.date())
        )
        found: dict[uuid.UUID, list[Observation]] = defaultdict(list)
        text = _Texts()
        for license_id, activation_id, day, first, last, count, ip, prefix, server, version in rows:
            found[license_id].append(
                Observation(
                    text(activation_id),
                    day,
                    first,
                    last,
                    count,
                    ip.hex() if ip is not None else None,
                    prefix,
                    server.hex() if server is not None else None,
                    version,
                )
            )
        return found

    def _add_seat_history(
        self,
        ids: list[uuid.UUID],
        seats_since: datetime,
        found: dict[uuid.UUID, list[Observation]],
    ) -> None:
        """Before the lookback, only when each seat was live matters: one row per
        activation and day, with no address, server or version (the rules that read
        those look at the lookback only)."""
        o = UsageObservation
        rows = self.session.execute(
            select(
                o.license_id,
                o.activation_id,
                o.day,
                func.min(o.first_seen),
                func.max(o.last_seen),
                func.sum(o.count),
            )
            .where(
                o.license_id.in_(ids),
                o.day >= seats_since.date(),
                o.day < self.since.date(),
            )
            .group_by(o.license_id, o.activation_id, o.day)
        )
        text = _Texts()
        for license_id, activation_id, day, first, last, count in rows:
            found[license_id].append(Observation(text(activation_id), day, first, last, count))

    def _activations(
        self,
        ids: list[uuid.UUID],
        seats_since: datetime,
        observations: Mapping[uuid.UUID, list[Observation]],
    ) -> dict[uuid.UUID, list[ActivationTimeline]]:
        """The seats live in the window or taken or released in it, first and last seen
        from the observations read."""
        seen: dict[str, tuple[datetime, datetime]] = {}
        for per_license in observations.values():
            for obs in per_license:
                first, last = seen.get(obs.activation_id, (obs.first_seen, obs.last_seen))
                seen[obs.activation_id] = (min(first, obs.first_seen), max(last, obs.last_seen))
        a = Activation
        rows = self.session.execute(
            select(
                a.license_id, a.id, a.fingerprint, a.activated_at, a.released_at, a.release_reason
            )
            .where(
                a.license_id.in_(ids),
                or_(a.released_at.is_(None), a.released_at >= seats_since),
            )
            .order_by(a.activated_at)
        )
        found: dict[uuid.UUID, list[ActivationTimeline]] = defaultdict(list)
        for license_id, activation_id, fingerprint, activated, released, reason in rows:
            key = str(activation_id)
            span = seen.get(key)
            found[license_id].append(
                ActivationTimeline(
                    key,
                    fingerprint,
                    activated,
                    released,
                    reason,
                    span[0] if span else None,
                    span[1] if span else None,
                )
            )
        return found

    def _lease_presentations(
        self, ids: list[uuid.UUID]
    ) -> dict[uuid.UUID, list[LeasePresentation]]:
        p = LeasePresentationRow
        rows = self.session.execute(
            select(
                p.license_id, p.activation_id, p.presented_jti, p.newest_jti, p.at, p.ip_prefix
            ).where(p.license_id.in_(ids), p.at >= self.since)
        )
        found: dict[uuid.UUID, list[LeasePresentation]] = defaultdict(list)
        for license_id, activation_id, presented, newest, at, prefix in rows:
            found[license_id].append(
                LeasePresentation(str(activation_id), presented, newest, at, prefix)
            )
        return found

    def _signature_failures(
        self, license_by_key_id: Mapping[str, uuid.UUID]
    ) -> dict[uuid.UUID, list[SignatureFailureCount]]:
        f = SignatureFailure
        rows = self.session.execute(
            select(f.key_id, f.bucket_start, f.count).where(
                f.key_id.in_(list(license_by_key_id)), f.bucket_start >= self.since
            )
        )
        found: dict[uuid.UUID, list[SignatureFailureCount]] = defaultdict(list)
        for key_id, bucket_start, count in rows:
            found[license_by_key_id[key_id]].append(
                SignatureFailureCount(key_id, bucket_start, count)
            )
        return found


class _Texts:
    """Each activation id as text once per query, not once per observation row."""

    def __init__(self) -> None:
        self._known: dict[uuid.UUID, str] = {}

    def __call__(self, value: uuid.UUID) -> str:
        known = self._known.get(value)
        if known is None:
            known = self._known[value] = str(value)
        return known
