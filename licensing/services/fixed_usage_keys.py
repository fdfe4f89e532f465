"""The fixed usage keys: what hashed addresses, server names and observation keys before
monthly keys existed (migration 0013), until the last row they hashed is gone.

Which rows they hashed is told by the monthly keys' creation times, with no column of
its own: a month's first key is made by the first check-in after the upgrade, so a row
of that month first seen before its month's first key was made could only have been
hashed under a fixed key. Rows of months before the first month that holds a key are
from before the upgrade, or of months whose keys were destroyed with their data: they
count as the fixed keys' (keeping the keys longer, never shorter, than their rows).

Once no such row is left, the retention job deletes the stored fixed usage keys
(:func:`destroy_unused`), a master-key rotation stops storing them and search stops
hashing under them (:func:`in_use`). A fixed key that was never stored is derived from
the master key and cannot be destroyed by deleting a row: it becomes unlinkable with the
next master-key rotation, which then does not store it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta

from sqlalchemy import ColumnElement, and_, delete, exists, func, or_, select, true
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.crypto.sealing import USAGE_HASH_PURPOSES, hash_period
from licensing.models import HashKey, LeasePresentation, UsageObservation
from licensing.models.hash_keys import FIXED_PERIOD
from licensing.services import audit
from licensing.services.legal_hold_scope import held_license_ids
from licensing.timeutil import add_months

DESTROYED_ACTION = "privacy.hash_keys_destroyed"
# A check-in takes its time before it makes its month's first key (the key's month is
# that time's), so the first rows under a new month's key are a moment older than the
# key. Only a row older than its month's first key by more than this is counted with
# the fixed keys' by the misuse rules; the fixed keys themselves are kept for any row
# older than the key at all.
CHECK_IN_BEFORE_ITS_KEY = timedelta(seconds=1)

_k = HashKey


def month_start(period: str) -> datetime:
    """The first instant (UTC) of the key period ``period`` ("YYYY-MM")."""
    year, month = (int(part) for part in period.split("-"))
    return datetime(year, month, 1, tzinfo=UTC)


def _first_keys(session: Session) -> dict[str, datetime]:
    """When each month's first usage key still held was made, by period."""
    made = session.execute(
        select(_k.period, func.min(_k.created_at))
        .where(_k.purpose.in_(USAGE_HASH_PURPOSES), _k.period != FIXED_PERIOD)
        .group_by(_k.period)
    ).all()
    return {str(period): at if at.tzinfo else at.replace(tzinfo=UTC) for period, at in made}


def _made_within(first_keys: Mapping[str, datetime]) -> dict[str, datetime]:
    """The months whose first key was made within the month itself.

    A month's key made after the month ended was not made by a check-in of that month
    (data written with a clock set back): nothing then tells its rows apart, and they
    are taken as hashed under it.
    """
    return {
        period: at for period, at in first_keys.items() if at < add_months(month_start(period), 1)
    }


@dataclass(frozen=True, slots=True)
class Boundary:
    """Where the misuse rules take rows as hashed under the fixed keys: rows of a month
    before every month that holds a key, and rows of a month first seen before its
    first key was made (less :data:`CHECK_IN_BEFORE_ITS_KEY`). With no key held at
    all, no row is (nothing tells them apart, and months counted apart never count one
    value twice)."""

    first_keyed: str | None = None
    before: Mapping[str, datetime] = field(default_factory=dict)

    def hashed_under_fixed_keys(self, day: date, first_seen: datetime) -> bool:
        if self.first_keyed is None:
            return False
        period = hash_period(day)
        if period < self.first_keyed:
            return True
        cutoff = self.before.get(period)
        return cutoff is not None and first_seen < cutoff


def boundary(session: Session) -> Boundary:
    """The :class:`Boundary` as the keys held now place it."""
    first_keys = _first_keys(session)
    made = _made_within(first_keys)
    return Boundary(
        min(first_keys) if first_keys else None,
        {period: at - CHECK_IN_BEFORE_ITS_KEY for period, at in made.items()},
    )


def _before_keys(
    day: InstrumentedAttribute[date] | InstrumentedAttribute[datetime],
    seen: InstrumentedAttribute[datetime],
    first_keys: Mapping[str, datetime],
    *,
    by_day: bool,
) -> ColumnElement[bool]:
    """Rows from before the first month that holds a key, or of that month and first
    seen before its first key was made; ``day`` is the row's day (``by_day``) or its
    instant. Each a range on the time it is read by, so that the answer is an index
    range and not a pass over every row.

    Every later month's first key is made by that month's first check-in, so only the
    first month held can have rows from before its key (once the upgrade's month has
    gone, a moment at the start of the next: kept for, the keys stay a month longer).
    """
    if not first_keys:
        return true()  # no key held: every row left was hashed under the fixed keys
    period = min(first_keys)
    start = month_start(period)
    earlier = day < (start.date() if by_day else start)
    made = _made_within(first_keys).get(period)
    if made is None:
        return earlier
    until = day <= made.date() if by_day else day < made
    return or_(earlier, and_(day >= (start.date() if by_day else start), until, seen < made))


def in_use(session: Session, *, deleted_before: date | None = None) -> bool:
    """Whether any usage row hashed under the fixed keys is left: an observation, or a
    lease presentation's address hash. ``deleted_before``: leave out observations the
    retention job deletes (observed before that day, not kept by a hold), for a dry run.
    """
    first_keys = _first_keys(session)
    o, p = UsageObservation, LeasePresentation
    observed = _before_keys(o.day, o.first_seen, first_keys, by_day=True)
    if deleted_before is not None:
        observed = and_(
            observed, or_(o.day >= deleted_before, o.license_id.in_(held_license_ids()))
        )
    else:
        # Ids grow with insertion: if any row from before the keys is left, the oldest
        # row left is one. Reading that one row by the primary key keeps a search (which
        # asks this while no fixed key is stored) from walking the table: ``day`` has no
        # index, on purpose (bench/README.md, "Retention job").
        observed = and_(observed, o.id == select(func.min(o.id)).scalar_subquery())
    presented = and_(p.ip_hash.is_not(None), _before_keys(p.at, p.at, first_keys, by_day=False))
    if deleted_before is None:  # the same for presentations: their oldest with a hash
        oldest = select(func.min(p.id)).where(p.ip_hash.is_not(None)).scalar_subquery()
        presented = and_(presented, p.id == oldest)
    left = or_(exists(select(o.id).where(observed)), exists(select(p.id).where(presented)))
    return bool(session.scalar(select(left)))


def searched(session: Session) -> bool:
    """Whether a search should hash under the fixed usage keys too, answered by the keys
    stored before any row is read: stored, they are in use (retention deletes them when
    they are not); missing while other fixed keys are stored, a rotation ran and did not
    store them (or they were destroyed), so they are gone; none stored at all, they are
    still derived from the master key and only the rows can say (:func:`in_use`).
    """
    fixed = set(session.scalars(select(_k.purpose).where(_k.period == FIXED_PERIOD)))
    if fixed & set(USAGE_HASH_PURPOSES):
        return True
    return not fixed and in_use(session)


def _stored(session: Session) -> ColumnElement[bool]:
    return and_(_k.purpose.in_(USAGE_HASH_PURPOSES), _k.period == FIXED_PERIOD)


def count_stored(session: Session) -> int:
    """How many fixed usage keys are stored (a master-key rotation stored them)."""
    return int(session.scalar(select(func.count()).select_from(_k).where(_stored(session))) or 0)


def derived_only(session: Session) -> bool:
    """Whether no fixed key of any purpose is stored: no rotation has run, and the fixed
    usage keys can still be derived from the current master key."""
    fixed = select(_k.purpose).where(_k.period == FIXED_PERIOD)
    return not session.scalar(select(exists(fixed.subquery())))


def destroy_unused(session: Session, *, actor: str) -> int:
    """Delete the stored fixed usage keys once no row hashed under them is left, audited
    with the purposes destroyed (nothing else); the number destroyed."""
    if in_use(session):
        return 0
    destroyed = sorted(session.scalars(select(_k.purpose).where(_stored(session))))
    if not destroyed:
        return 0
    session.execute(delete(_k).where(_stored(session)))
    audit.record(
        session,
        actor=actor,
        action=DESTROYED_ACTION,
        subject_type="privacy",
        subject_id="hash-keys",
        data={"purposes": destroyed, "periods": [], "fixed": True},
    )
    return len(destroyed)
