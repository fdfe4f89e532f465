"""Which licenses an incremental misuse scan looks at: those with news a rule could act on
since the last scan.

Every installed instance checks in every day, so "checked in since" is nearly every
license. A check-in is news only when it could change a finding: it brings an address,
server name or version its seat has not shown in the lookback (the spread and version
rules count distinct values), or a second network on one day (CLONED_INSTANCE), or it
comes from a license whose findings grow with time alone: one that is suspended or
revoked (REVOKED_CALLING_HOME), holds more seats than allowed (MIGRATION_OVERSTAY's
side-by-side time), or already has a case (its evidence grows). Any other check-in
repeats what the last scan saw, and a quiet license stays quiet on it: the lookback
only drops old values. The periodic full pass looks at everything again (new rules,
changed thresholds). tests/unit/services/test_misuse_scan.py holds this to the rules.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta

from sqlalchemy import and_, exists, func, or_, select, union
from sqlalchemy.orm import Session, aliased

from licensing.misuse.history import ACTIVE
from licensing.models import Activation, ActivationStatus, Edition, License, UsageObservation
from licensing.models.misuse import (
    LeasePresentation,
    MisuseCase,
    MisuseException,
    SignatureFailure,
)

# A signature-failure bucket keeps counting after it starts: look back over whole buckets.
FAILURE_BUCKET_SLACK = timedelta(hours=1)


def changed_licenses(
    session: Session, *, since: datetime, now: datetime, lookback: timedelta
) -> set[uuid.UUID]:
    """Licenses with news since ``since``: seats taken or released, leases presented out
    of turn, invalid signatures, a change of status, an exception that ended (its rule
    speaks again), and check-ins that are news (see the module's docstring)."""
    a, p, f, e = Activation, LeasePresentation, SignatureFailure, MisuseException
    news = union(
        select(a.license_id).where(or_(a.activated_at > since, a.released_at > since)),
        select(p.license_id).where(p.at > since),
        select(License.id)
        .join(f, f.key_id == License.key_id)
        .where(f.bucket_start > since - FAILURE_BUCKET_SLACK),
        select(License.id).where(License.status_changed_at > since),
        select(e.license_id).where(
            or_(e.ended_at > since, and_(e.ends_at > since, e.ends_at <= now))
        ),
    )
    found = set(session.scalars(select(news.subquery().c[0])))
    checked_in = set(session.scalars(select(a.license_id).where(a.last_check_in_at > since)))
    checked_in -= found
    if checked_in:
        found |= checked_in & _findings_grow_with_time(session, now=now, lookback=lookback)
        found |= _check_ins_with_news(session, since=since, lookback_start=now - lookback)
    return found


def _findings_grow_with_time(
    session: Session, *, now: datetime, lookback: timedelta
) -> set[uuid.UUID]:
    """Suspended or revoked licenses, those with a case, and those holding more seats
    than allowed (live, or released within the longest migration window and lookback)."""
    a = Activation
    longest_window = session.scalar(select(func.max(Edition.migration_window_days))) or 0
    held_since = now - lookback - timedelta(days=longest_window)
    seats = (
        select(a.license_id, func.count().label("seats"))
        .where(or_(a.status == ActivationStatus.ACTIVE, a.released_at >= held_since))
        .group_by(a.license_id)
        .subquery()
    )
    allowed = func.coalesce(License.max_activations_override, Edition.max_activations)
    return set(
        session.scalars(
            union(
                select(License.id).where(License.status != ACTIVE),
                select(MisuseCase.license_id),
                select(seats.c.license_id)
                .join(License, License.id == seats.c.license_id)
                .join(Edition, Edition.id == License.edition_id)
                .where(seats.c.seats > allowed),
            )
        )
    )


def _check_ins_with_news(
    session: Session, *, since: datetime, lookback_start: datetime
) -> set[uuid.UUID]:
    """Licenses with an observation first seen since ``since`` that shows a value its
    seat had not shown in the lookback, or a second network on one day."""
    new, earlier = UsageObservation, aliased(UsageObservation)
    touched = select(Activation.id).where(Activation.last_check_in_at > since)
    unseen = ~exists().where(
        earlier.activation_id == new.activation_id,
        earlier.observation_key == new.observation_key,
        earlier.day >= lookback_start.date(),
        earlier.first_seen <= since,
    )
    split = exists().where(
        earlier.activation_id == new.activation_id,
        earlier.day == new.day,
        earlier.ip_prefix.is_distinct_from(new.ip_prefix),
    )
    return set(
        session.scalars(
            select(new.license_id)
            .where(
                new.activation_id.in_(touched),
                new.day >= since.date(),
                new.last_seen > since,
                or_(and_(new.first_seen > since, unseen), split),
            )
            .distinct()
        )
    )
