"""The selects behind ``misuse_history`` (the observations' are in
``misuse_observation_rows``): each reads one part of many licenses' histories in one
statement and hands back plain values grouped by license.

They run on the session's connection as Core statements: the rows are tuples, and the
ORM's per-row work (identity, loading) never runs; at three million observations it
would cost more than everything else the scan does.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import NamedTuple

from sqlalchemy import ColumnElement, Connection, or_, select
from sqlalchemy.orm import InstrumentedAttribute

from licensing.misuse.history import (
    ActivationTimeline,
    LeasePresentation,
    Observation,
    SignatureFailureCount,
)
from licensing.models import Activation, License, UsageObservation
from licensing.models.misuse import LeasePresentation as LeasePresentationRow
from licensing.models.misuse import SignatureFailure

_o = UsageObservation


class Seat(NamedTuple):
    id: uuid.UUID
    fingerprint: str
    activated_at: datetime
    released_at: datetime | None
    release_reason: str | None


@dataclass(frozen=True, slots=True)
class Span:
    """Every license from ``first`` to ``last`` in id order."""

    first: uuid.UUID
    last: uuid.UUID


# Which licenses a select reads: a list of ids, or every license from the first id to the
# last (inclusive) when a chunk holds consecutive licenses: a range scan of the index is
# several times cheaper than a thousand bound ids, and the rows of licenses in the range
# that were not asked for are simply not used.
Ids = Sequence[uuid.UUID] | Span


def among(
    column: ColumnElement[uuid.UUID] | InstrumentedAttribute[uuid.UUID], ids: Ids
) -> ColumnElement[bool]:
    """``column`` is one of ``ids``, or within the span."""
    if isinstance(ids, Span):
        return column.between(ids.first, ids.last)
    return column.in_(ids)


class Texts:
    """Each id as text once per select, not once per row (most rows repeat an id)."""

    def __init__(self) -> None:
        self._known: dict[uuid.UUID, str] = {}

    def __call__(self, value: uuid.UUID) -> str:
        known = self._known.get(value)
        if known is None:
            known = self._known[value] = str(value)
        return known


def seats(connection: Connection, ids: Ids, since: datetime) -> dict[uuid.UUID, list[Seat]]:
    """The seats live since ``since`` or released after it, oldest first."""
    a = Activation
    rows = connection.execute(
        select(a.license_id, a.id, a.fingerprint, a.activated_at, a.released_at, a.release_reason)
        .where(among(a.license_id, ids), or_(a.released_at.is_(None), a.released_at >= since))
        .order_by(a.activated_at)
    )
    found: dict[uuid.UUID, list[Seat]] = defaultdict(list)
    for license_id, activation_id, fingerprint, activated, released, reason in rows:
        found[license_id].append(Seat(activation_id, fingerprint, activated, released, reason))
    return found


def timelines(
    seats: Sequence[Seat], observations: Sequence[Observation]
) -> tuple[ActivationTimeline, ...]:
    """One license's seats, first and last seen from the observations read."""
    seen: dict[str, tuple[datetime, datetime]] = {}
    for o in observations:
        span = seen.get(o.activation_id)
        seen[o.activation_id] = (
            (min(span[0], o.first_seen), max(span[1], o.last_seen))
            if span
            else (o.first_seen, o.last_seen)
        )
    found = []
    for seat in seats:
        key = str(seat.id)
        span = seen.get(key)
        found.append(
            ActivationTimeline(
                key,
                seat.fingerprint,
                seat.activated_at,
                seat.released_at,
                seat.release_reason,
                span[0] if span else None,
                span[1] if span else None,
            )
        )
    return tuple(found)


def lease_presentations(
    connection: Connection, ids: Ids, since: datetime
) -> dict[uuid.UUID, list[LeasePresentation]]:
    p = LeasePresentationRow
    rows = connection.execute(
        select(
            p.license_id,
            p.activation_id,
            p.presented_jti,
            p.newest_jti,
            p.at,
            p.ip_prefix,
            p.issued_jti,
        ).where(among(p.license_id, ids), p.at >= since)
    )
    found: dict[uuid.UUID, list[LeasePresentation]] = defaultdict(list)
    for license_id, activation_id, presented, newest, at, prefix, issued in rows:
        found[license_id].append(
            LeasePresentation(str(activation_id), presented, newest, at, prefix, issued)
        )
    return found


def signature_failures(
    connection: Connection, ids: Ids, since: datetime
) -> dict[uuid.UUID, list[SignatureFailureCount]]:
    """Invalid signatures counted for the licenses' key ids since ``since``."""
    f = SignatureFailure
    rows = connection.execute(
        select(License.id, f.key_id, f.bucket_start, f.count)
        .join(License, License.key_id == f.key_id)
        .where(among(License.id, ids), f.bucket_start >= since)
    )
    found: dict[uuid.UUID, list[SignatureFailureCount]] = defaultdict(list)
    for license_id, key_id, bucket_start, count in rows:
        found[license_id].append(SignatureFailureCount(key_id, bucket_start, count))
    return found
