"""The usage rollup: check-ins and active instances per day, computed from the observations."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, UsageDay, UsageObservation
from licensing.services import usage_rollup
from tests.factories import make_activation, make_license

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
TODAY = NOW.date()
DAY = timedelta(days=1)


def _seat(session: Session, sealer: Sealer) -> Activation:
    license = make_license(session, sealer).license
    return make_activation(session, license.id, silent_for=timedelta(hours=1), now=NOW)


def _observe(session: Session, activation: Activation, day: date, count: int) -> None:
    """One observation row: another observation key (IP, server name, version) each time."""
    session.add(
        UsageObservation(
            activation_id=activation.id,
            license_id=activation.license_id,
            day=day,
            observation_key=uuid.uuid4().bytes * 2,
            product_version="1.0.0",
            count=count,
        )
    )
    session.flush()


def _rows(session: Session) -> dict[date, tuple[int, int, datetime]]:
    session.expire_all()
    return {
        row.day: (row.check_ins, row.active_instances, row.computed_at)
        for row in session.scalars(select(UsageDay))
    }


def test_each_day_sums_the_check_ins_and_counts_each_activation_once(
    session: Session, sealer: Sealer
) -> None:
    one, two = _seat(session, sealer), _seat(session, sealer)
    # ``one`` seen from two addresses today: two observation rows, one instance.
    _observe(session, one, TODAY, 24)
    _observe(session, one, TODAY, 3)
    _observe(session, two, TODAY, 5)
    _observe(session, one, TODAY - DAY, 7)

    written = usage_rollup.roll_up(session, first=TODAY - DAY, last=TODAY, now=NOW)

    assert written == 2
    assert _rows(session) == {TODAY: (32, 2, NOW), TODAY - DAY: (7, 1, NOW)}


def test_a_day_without_observations_gets_a_row_of_zeros(session: Session, sealer: Sealer) -> None:
    seat = _seat(session, sealer)
    _observe(session, seat, TODAY - 3 * DAY, 2)
    _observe(session, seat, TODAY - 10 * DAY, 9)  # before the range: neither read nor written

    written = usage_rollup.roll_up(session, first=TODAY - 4 * DAY, last=TODAY, now=NOW)

    assert written == 5
    assert _rows(session) == {
        TODAY - 4 * DAY: (0, 0, NOW),
        TODAY - 3 * DAY: (2, 1, NOW),
        TODAY - 2 * DAY: (0, 0, NOW),
        TODAY - DAY: (0, 0, NOW),
        TODAY: (0, 0, NOW),
    }


def test_rolling_up_again_updates_the_rows_in_place(session: Session, sealer: Sealer) -> None:
    seat = _seat(session, sealer)
    _observe(session, seat, TODAY, 4)
    usage_rollup.roll_up(session, first=TODAY, last=TODAY, now=NOW)
    _observe(session, _seat(session, sealer), TODAY, 6)  # later check-ins today
    later = NOW + timedelta(minutes=15)

    usage_rollup.roll_up(session, first=TODAY, last=TODAY, now=later)

    assert _rows(session) == {TODAY: (10, 2, later)}
    assert session.scalar(select(func.count()).select_from(UsageDay)) == 1


def test_a_range_that_ends_before_it_starts_is_refused(session: Session) -> None:
    with pytest.raises(ValueError, match="ends"):
        usage_rollup.roll_up(session, first=TODAY, last=TODAY - DAY, now=NOW)


def test_with_nothing_computed_every_day_of_the_last_90_is_due(session: Session) -> None:
    due = usage_rollup.days_to_roll(session, TODAY)

    assert len(due) == 90
    assert (due[0], due[-1]) == (TODAY - 89 * DAY, TODAY)
    assert due == sorted(due)


def test_missing_days_are_due_and_yesterday_and_today_always(session: Session) -> None:
    usage_rollup.roll_up(session, first=TODAY - 89 * DAY, last=TODAY, now=NOW)
    for gap in (TODAY - 40 * DAY, TODAY - 41 * DAY, TODAY - 60 * DAY):
        session.delete(session.get_one(UsageDay, gap))
    session.add(UsageDay(day=TODAY - 95 * DAY, check_ins=0, active_instances=0, computed_at=NOW))
    session.flush()

    due = usage_rollup.days_to_roll(session, TODAY)

    # Yesterday and today are computed, yet due again; a day before the 90 is never due.
    assert due == [TODAY - 60 * DAY, TODAY - 41 * DAY, TODAY - 40 * DAY, TODAY - DAY, TODAY]


def test_the_job_body_fills_the_90_days_then_keeps_yesterday_and_today_fresh(
    session: Session, sealer: Sealer
) -> None:
    seat = _seat(session, sealer)
    _observe(session, seat, TODAY - 50 * DAY, 3)
    _observe(session, seat, TODAY - DAY, 5)

    assert usage_rollup.roll_up_due(session, now=NOW) == 90
    first = _rows(session)
    assert len(first) == 90 and first[TODAY - 50 * DAY] == (3, 1, NOW)

    # Check-ins of yesterday's last minutes commit after midnight; today's keep coming.
    _observe(session, seat, TODAY - DAY, 1)
    _observe(session, seat, TODAY, 2)
    later = NOW + timedelta(minutes=15)
    assert usage_rollup.roll_up_due(session, now=later) == 2

    second = _rows(session)
    assert second[TODAY - DAY] == (6, 1, later)
    assert second[TODAY] == (2, 1, later)
    assert second[TODAY - 50 * DAY] == (3, 1, NOW)  # older days are left as computed
    assert len(second) == 90


def test_a_run_after_days_without_one_fills_the_gap(session: Session) -> None:
    usage_rollup.roll_up_due(session, now=NOW)
    three_days_on = NOW + 3 * DAY
    read: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if "usage_observations" in statement:
            read.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        # The day of the last run, computed at its noon, is due again with the three since:
        # one run of four days.
        assert usage_rollup.roll_up_due(session, now=three_days_on) == 4
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert len(read) == 1 and "GROUP BY" in read[0], read

    computed = _rows(session)
    assert {day for day, (*_, at) in computed.items() if at == three_days_on} == {
        TODAY + n * DAY for n in (0, 1, 2, 3)
    }


def test_a_day_computed_while_it_ran_gets_its_last_check_ins_after_days_without_a_run(
    session: Session, sealer: Sealer
) -> None:
    seat = _seat(session, sealer)
    _observe(session, seat, TODAY, 2)
    usage_rollup.roll_up_due(session, now=NOW)  # at noon: today's figures so far
    _observe(session, seat, TODAY, 3)  # the afternoon's check-ins
    two_days_on = NOW + 2 * DAY

    usage_rollup.roll_up_due(session, now=two_days_on)

    assert _rows(session)[TODAY] == (5, 1, two_days_on)  # not frozen at noon's 2
    three_days_on = NOW + 3 * DAY
    usage_rollup.roll_up_due(session, now=three_days_on)
    assert _rows(session)[TODAY] == (5, 1, two_days_on)  # final now: left as computed


@pytest.mark.parametrize(
    ("computed_at", "due"),
    [
        (datetime(2026, 6, 1, 23, 59, tzinfo=UTC), True),  # before the day was over
        (datetime(2026, 6, 2, 0, 30, tzinfo=UTC), True),  # within the grace
        (datetime(2026, 6, 2, 0, 59, 59, tzinfo=UTC), True),
        (datetime(2026, 6, 2, 1, 0, tzinfo=UTC), False),  # the day's end + FINAL_AFTER
        (datetime(2026, 6, 3, 9, 0, tzinfo=UTC), False),
    ],
)
def test_a_row_is_final_an_hour_after_its_day_ended(
    session: Session, computed_at: datetime, due: bool
) -> None:
    assert timedelta(hours=1) == usage_rollup.FINAL_AFTER  # the cases above assume it
    usage_rollup.roll_up(session, first=TODAY - 89 * DAY, last=TODAY + 5 * DAY, now=NOW + 9 * DAY)
    session.get_one(UsageDay, TODAY).computed_at = computed_at
    session.flush()
    today = TODAY + 5 * DAY

    assert usage_rollup.days_to_roll(session, today) == ([TODAY] if due else []) + [
        today - DAY,
        today,
    ]
    assert usage_rollup.is_final(TODAY, computed_at=computed_at) is not due


def test_the_rows_and_their_times_are_read_in_one_statement(session: Session) -> None:
    usage_rollup.roll_up(session, first=TODAY - 89 * DAY, last=TODAY, now=NOW)
    read: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        read.append(statement)

    engine = session.get_bind().engine
    event.listen(engine, "before_cursor_execute", record)
    try:
        due = usage_rollup.days_to_roll(session, TODAY + 2 * DAY)
    finally:
        event.remove(engine, "before_cursor_execute", record)

    assert due == [TODAY, TODAY + DAY, TODAY + 2 * DAY]  # TODAY: computed at its noon
    assert len(read) == 1 and "computed_at" in read[0] and "usage_days" in read[0], read
