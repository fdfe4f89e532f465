"""The misuse rules' input: ``LicenseHistory`` values built from the database, a chunk of
licenses at a time.

A handful of set-based Core selects per chunk, never one per license, each returning
tuples (``misuse_history_rows``). Addresses and server names are read as their keyed
hashes, which raw and pseudonymised rows both hold, so the rules decide the same before
and after the raw retention period ends.

Most licenses are read summed over their days (one row per activation, address, server
and version instead of one per day): the rules count distinct values, add up check-ins
and take first and last seen, which the sums keep. Only a license whose days can matter
(``days_matter``) is read day by day, with its seats' earlier check-ins: the few that
are suspended or revoked, run more seats than allowed, or have a seat seen from two
networks. tests/unit/services/test_misuse_history.py holds both readings to the same
findings.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import NamedTuple

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.misuse.history import ACTIVE, LicenseHistory, Observation
from licensing.models import Edition, License
from licensing.services import catalog, fixed_usage_keys, seats
from licensing.services import misuse_history_rows as rows
from licensing.services import misuse_observation_rows as observed


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
    dates between chunks (a scan reads them once per product, not once per chunk).

    ``summed=False`` reads every license day by day (the tests compare both readings).
    """

    def __init__(
        self, session: Session, *, now: datetime, lookback: timedelta, summed: bool = True
    ) -> None:
        self.session = session
        self.now = now
        self.since = now - lookback
        self.summed = summed
        self._releases: dict[uuid.UUID, dict[str, datetime]] = {}
        # Which rows the fixed keys hashed (the month of the upgrade to monthly keys).
        self._fixed = fixed_usage_keys.boundary(session)

    def histories(
        self, license_ids: Sequence[uuid.UUID], *, consecutive: bool = False
    ) -> list[LicenseHistory]:
        """One history per license that exists among ``license_ids``, in their order.

        ``consecutive``: the ids are every license from the first to the last in id order
        (a chunk of a full pass), so the selects read them as one range.
        """
        ids: rows.Ids = rows.Span(license_ids[0], license_ids[-1]) if consecutive else license_ids
        if not license_ids:
            return []
        terms = self._terms(license_ids, ids)
        if not terms:
            return []
        connection = self.session.connection()
        # MIGRATION_OVERSTAY measures side-by-side time longer than the migration window
        # that ends in the lookback: the seats' check-ins are read that much further back.
        longest_window = max(term.migration_window_days for term in terms.values())
        seats_since = self.since - timedelta(days=longest_window)
        seats_held = rows.seats(connection, ids, seats_since)
        if self.summed:
            observations = observed.summed_observations(connection, ids, self.since, self._fixed)
            daily = [
                i
                for i, term in terms.items()
                if days_matter(term, seats_held.get(i, []), observations.get(i, []))
            ]
        else:
            daily, observations = list(terms), {}
        if daily:
            by_day = observed.daily_observations(connection, daily, self.since, self._fixed)
            observed.seat_history(connection, daily, seats_since, self.since, by_day)
            for license_id in daily:
                observations[license_id] = by_day.get(license_id, [])
        leases = rows.lease_presentations(connection, ids, self.since)
        failures = rows.signature_failures(connection, ids, self.since)
        return [
            LicenseHistory(
                license_id=str(license_id),
                status=term.status,
                allowed_activations=_allowed(term),
                migration_window=timedelta(days=term.migration_window_days),
                check_in_interval=timedelta(seconds=term.check_in_interval_seconds),
                status_changed_at=term.status_changed_at,
                upgrade_protection_until=term.upgrade_protection_until,
                release_dates=self._release_dates(term.product_id),
                activations=rows.timelines(
                    seats_held.get(license_id, []), observations.get(license_id, [])
                ),
                observations=tuple(observations.get(license_id, ())),
                lease_presentations=tuple(leases.get(license_id, ())),
                signature_failures=tuple(failures.get(license_id, ())),
            )
            for license_id, term in terms.items()
        ]

    def _terms(self, license_ids: Sequence[uuid.UUID], ids: rows.Ids) -> dict[uuid.UUID, _Terms]:
        found = {
            row[0]: _Terms._make(row[1:])
            for row in self.session.connection().execute(
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
                .where(rows.among(License.id, ids))
            )
        }
        return {license_id: found[license_id] for license_id in license_ids if license_id in found}

    def _release_dates(self, product_id: uuid.UUID) -> dict[str, datetime]:
        if product_id not in self._releases:
            self._releases[product_id] = {
                release.version: release.released_at
                for release in catalog.product_releases(self.session, product_id)
            }
        return self._releases[product_id]


def _allowed(term: _Terms) -> int:
    return seats.allowed_by(term.max_activations_override, term.max_activations)


def days_matter(
    term: _Terms, seats_held: Sequence[rows.Seat], summed: Sequence[Observation]
) -> bool:
    """Whether a rule could read this license's days, not only its sums: a suspended or
    revoked license (REVOKED_CALLING_HOME counts check-ins after a moment within the
    lookback), more seats held in the window than allowed (MIGRATION_OVERSTAY follows
    live time day by day), or a seat seen from two networks in the lookback
    (CLONED_INSTANCE compares networks within a day). Any other license's findings are
    the same from its summed observations."""
    if term.status != ACTIVE or len(seats_held) > _allowed(term):
        return True
    networks: dict[str, str | None] = {}
    return any(networks.setdefault(o.activation_id, o.network) != o.network for o in summed)
