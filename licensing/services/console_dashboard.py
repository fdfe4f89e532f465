"""The figures of the console's dashboard: each one query, read-only, typed, no Flask."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import InstrumentedAttribute, Session

from licensing.models import License, LicenseStatus, UsageDay
from licensing.models.misuse import CaseStatus, MisuseCase, SignatureFailure

SHORT_LIST = 10


@dataclass(frozen=True, slots=True)
class EndingLicense:
    license_id: uuid.UUID
    key_hint: str
    ends_at: datetime


@dataclass(frozen=True, slots=True)
class Ending:
    """How many active licenses reach a date within the window, and the soonest few."""

    count: int
    soonest: Sequence[EndingLicense]


def open_cases_by_severity(session: Session) -> list[tuple[str, int]]:
    """Open cases per severity, high first; a severity with none is left out."""
    counts = dict(_open_cases_by(session, MisuseCase.severity))
    return [(name, counts[name]) for name in ("high", "medium", "low") if name in counts]


def open_cases_by_rule(session: Session) -> list[tuple[str, int]]:
    """Open cases per rule, the most first (then by name, for a stable chart)."""
    return sorted(_open_cases_by(session, MisuseCase.rule), key=lambda item: (-item[1], item[0]))


@dataclass(frozen=True, slots=True)
class DayOfUsage:
    check_ins: int  # the sum of the day's observation counts
    active_instances: int  # distinct activations with an observation that day


@dataclass(frozen=True, slots=True)
class UsagePerDay:
    """The computed days of a window, and when the newest of them was computed."""

    days: dict[date, DayOfUsage]
    as_of: datetime | None  # None: no day of the window is computed yet


def usage_per_day(session: Session, first: date, last: date) -> UsagePerDay:
    """Check-ins and active instances per day from ``first`` to ``last``, as the
    ``usage-rollup`` job last computed them; a day it has not computed is left out.

    Read from ``usage_days`` by primary key, never from the observations: aggregating
    those live took seconds at the fleet's size (services/usage_rollup.py).
    """
    rows = session.execute(
        select(UsageDay.day, UsageDay.check_ins, UsageDay.active_instances, UsageDay.computed_at)
        .where(UsageDay.day.between(first, last))
        .order_by(UsageDay.day)
    ).all()
    # Every run recomputes today, so the newest computed_at is today's row's when it has
    # one, and otherwise still says how old the figures are.
    return UsagePerDay(
        days={day: DayOfUsage(int(check_ins), int(active)) for day, check_ins, active, _ in rows},
        as_of=max((computed_at for *_, computed_at in rows), default=None),
    )


def licenses_expiring(session: Session, now: datetime, days: int = 30) -> Ending:
    return _ending(session, License.expires_at, now, days)


def upgrade_protection_ending(session: Session, now: datetime, days: int = 30) -> Ending:
    return _ending(session, License.upgrade_protection_until, now, days)


def signature_failures_since(session: Session, since: datetime) -> int:
    """Invalid signatures counted in the buckets that start at or after ``since``."""
    total = session.scalar(
        select(func.sum(SignatureFailure.count)).where(SignatureFailure.bucket_start >= since)
    )
    return int(total or 0)


def _open_cases_by(session: Session, column: InstrumentedAttribute[str]) -> list[tuple[str, int]]:
    rows = session.execute(
        select(column, func.count()).where(MisuseCase.status == CaseStatus.OPEN).group_by(column)
    )
    return [(str(name), int(number)) for name, number in rows]


def _ending(
    session: Session, column: InstrumentedAttribute[datetime | None], now: datetime, days: int
) -> Ending:
    # Active licenses only: a suspended or revoked one has nothing left to renew.
    window = (
        License.status == LicenseStatus.ACTIVE,
        column.is_not(None),
        column > now,
        column <= now + timedelta(days=days),
    )
    count = session.scalar(select(func.count()).select_from(License).where(*window)) or 0
    rows = session.execute(
        select(License.id, License.key_hint, column)
        .where(*window)
        .order_by(column, License.id)
        .limit(SHORT_LIST)
    )
    # The window already leaves out a missing date; the test keeps the type exact.
    soonest = [EndingLicense(id_, hint, ends) for id_, hint, ends in rows if ends is not None]
    return Ending(count, soonest)
