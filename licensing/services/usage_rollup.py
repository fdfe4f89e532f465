"""The fleet's usage per day, rolled up from the observations into ``usage_days``.

The dashboard charts check-ins and active instances per day over 30 days. Computed live,
that is an aggregate over nearly every observation (3,000,000 rows at the benchmark
fleet's size, seconds on PostgreSQL), and no index on ``day`` is wanted to narrow it:
every index on usage_observations costs each check-in's insert. So a job
(``usage-rollup``) computes the figures a few days at a time and the dashboard reads at
most 30 rows by primary key.

Only today's and yesterday's figures still change once computed (today's so far, and the
check-ins of yesterday's last minutes that commit after midnight), so each run recomputes
those two, any day of the last 90 that has no row yet, and any day whose row was computed
before the day was over (plus a grace): a run that stops for a few days must not leave a
day at the figures it had by noon. Other rows stay as they were, also once retention has
deleted the observations they were computed from.

Runs on several hosts at once are harmless: the rows are upserted in day order, so a
second run waits for the first's row locks instead of deadlocking, then writes figures
as fresh as its own read.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.orm import Session

from licensing.models import UsageDay, UsageObservation

ROLLED_DAYS = 90  # how far back a missing day is still filled in
# How long after a day's end its row may still change: check-ins of the day's last
# minutes commit late (a client's retry, the group commit), and are counted on their day.
FINAL_AFTER = timedelta(hours=1)
_DAY = timedelta(days=1)


def roll_up(session: Session, *, first: date, last: date, now: datetime) -> int:
    """Recompute the rows of every day from ``first`` to ``last``; returns how many.

    A day without observations gets a row of zeros: computed, nothing happened, which
    the dashboard tells apart from a day not computed yet.
    """
    if last < first:
        raise ValueError(f"the range ends ({last}) before it starts ({first})")
    # One grouped statement for the whole range: without an index on ``day`` each
    # statement reads the table, so a statement per day would read it once a day.
    observed = {
        day: (int(check_ins), int(active))
        for day, check_ins, active in session.execute(
            select(
                UsageObservation.day,
                func.sum(UsageObservation.count),
                func.count(func.distinct(UsageObservation.activation_id)),
            )
            .where(UsageObservation.day.between(first, last))
            .group_by(UsageObservation.day)
        )
    }
    rows = [
        {
            "day": day,
            "check_ins": observed.get(day, (0, 0))[0],
            "active_instances": observed.get(day, (0, 0))[1],
            "computed_at": now,
        }
        for day in _days(first, last)
    ]
    session.execute(_upsert(session.get_bind().dialect.name), rows)
    return len(rows)


def days_to_roll(session: Session, today: date, days: int = ROLLED_DAYS) -> list[date]:
    """The days a run recomputes, oldest first: each of the last ``days`` (today
    included) without a row or with a row not yet final, and yesterday and today always."""
    first = today - (days - 1) * _DAY
    computed = {
        day: computed_at
        for day, computed_at in session.execute(
            select(UsageDay.day, UsageDay.computed_at).where(UsageDay.day.between(first, today))
        )
    }
    unsettled = {
        day
        for day in _days(first, today)
        if day not in computed or not is_final(day, computed_at=computed[day])
    }
    return sorted(unsettled | {today - _DAY, today})


def is_final(day: date, *, computed_at: datetime) -> bool:
    """Whether a row computed at ``computed_at`` holds the day's last figures: computed
    once the day (UTC) was over and its late check-ins had committed."""
    return computed_at >= datetime.combine(day + _DAY, time(), UTC) + FINAL_AFTER


def roll_up_due(session: Session, *, now: datetime, days: int = ROLLED_DAYS) -> int:
    """Recompute the days :func:`days_to_roll` names (the ``usage-rollup`` job); returns
    how many day rows were written."""
    due = days_to_roll(session, now.date(), days)
    return sum(roll_up(session, first=run[0], last=run[-1], now=now) for run in _consecutive(due))


def _consecutive(days: Sequence[date]) -> Iterable[list[date]]:
    """The sorted ``days`` cut into runs of consecutive days: after the first run, all
    missing days are usually one run ending today, so a run is one statement."""
    run: list[date] = []
    for day in days:
        if run and day != run[-1] + _DAY:
            yield run
            run = []
        run.append(day)
    if run:
        yield run


def _days(first: date, last: date) -> list[date]:
    return [first + n * _DAY for n in range((last - first).days + 1)]


def _upsert(dialect: str) -> Any:
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    statement = insert(UsageDay)
    return statement.on_conflict_do_update(
        index_elements=[UsageDay.day],
        set_={
            "check_ins": statement.excluded.check_ins,
            "active_instances": statement.excluded.active_instances,
            "computed_at": statement.excluded.computed_at,
        },
    )
