"""The misuse scan: full and incremental passes, idempotence, the watermark, the lock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Rule
from licensing.misuse.thresholds import Thresholds
from licensing.models import License
from licensing.models.misuse import (
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    MisuseScanState,
)
from licensing.services import misuse_scan
from licensing.services.misuse_scan import ChunkOutcome, ScanPlan, ScanSummary
from tests.factories import make_license
from tests.unit.services.misuse_rows import (
    DAY,
    HOUR,
    NOW,
    daily,
    lease_presented,
    seat,
    signature_failures,
)

EVERY_DAY = timedelta(hours=24)


class Recorder:
    """A face that remembers what the scan did instead of committing."""

    def __init__(self, fail_after: int | None = None) -> None:
        self.plans: list[ScanPlan] = []
        self.chunks: list[ChunkOutcome] = []
        self.fail_after = fail_after

    def started(self, plan: ScanPlan) -> None:
        self.plans.append(plan)

    def chunk_done(self, outcome: ChunkOutcome) -> None:
        self.chunks.append(outcome)
        if self.fail_after is not None and len(self.chunks) >= self.fail_after:
            raise RuntimeError("the scan's host went away")


def _scan(
    session: Session,
    now: datetime,
    *,
    full: bool = False,
    progress: Recorder | None = None,
    chunk_size: int = misuse_scan.CHUNK_SIZE,
) -> tuple[ScanSummary, ScanPlan]:
    recorder = progress or Recorder()
    summary = misuse_scan.run(
        session,
        session.get_bind().engine,
        now=now,
        thresholds=Thresholds(),
        full_scan_every=EVERY_DAY,
        progress=recorder,
        full=full,
        chunk_size=chunk_size,
    )
    assert summary is not None
    return summary, recorder.plans[-1]


def _license(session: Session, sealer: Sealer) -> License:
    """A license whose last change of status was long before the scans of the test."""
    license = make_license(session, sealer).license
    license.status_changed_at = NOW - 60 * DAY
    return license


def _spreading(session: Session, sealer: Sealer, now: datetime = NOW) -> License:
    """Six servers of one license, each on a network of its own: NETWORK_SPREAD (and
    not SERVER_SPREAD, whose limit is three servers per seat, nor an overstay: they
    have run side by side for days, not past the migration window)."""
    license = _license(session, sealer)
    for n in range(6):
        activation = seat(session, license.id, activated_days_ago=20, now=now)
        daily(session, activation, 3, network=f"203.0.{n}", server=f"host-{n % 3}", now=now)
    return license


def _quiet(session: Session, sealer: Sealer) -> License:
    license = _license(session, sealer)
    daily(session, seat(session, license.id, activated_days_ago=20), 10)
    return license


def _cases(session: Session) -> list[tuple[uuid.UUID, str, str]]:
    rows = session.execute(select(MisuseCase.license_id, MisuseCase.rule, MisuseCase.status))
    return sorted((row[0], row[1], row[2]) for row in rows)


def test_the_first_scan_is_full_and_opens_a_case_per_finding(
    session: Session, sealer: Sealer
) -> None:
    spreading = _spreading(session, sealer)
    _quiet(session, sealer)

    summary, plan = _scan(session, NOW)

    assert plan.full and summary.full
    assert summary.licenses == 2
    assert summary.findings == {Rule.NETWORK_SPREAD: 1}
    assert (summary.cases.opened, summary.cases.updated) == (1, 0)
    assert _cases(session) == [(spreading.id, "NETWORK_SPREAD", "open")]
    state = session.get(MisuseScanState, misuse_scan.SCAN_NAME)
    assert state is not None
    assert (state.scanned_until, state.full_scan_at) == (NOW, NOW)
    assert summary.to_json()["findings"]["NETWORK_SPREAD"] == 1


def test_a_second_scan_over_the_same_evidence_changes_nothing(
    session: Session, sealer: Sealer
) -> None:
    _spreading(session, sealer)
    _scan(session, NOW, full=True)
    events = session.scalar(select(func.count()).select_from(MisuseCaseEvent))

    again, _ = _scan(session, NOW, full=True)

    assert again.findings == {Rule.NETWORK_SPREAD: 1}
    assert (again.cases.opened, again.cases.updated, again.cases.reopened) == (0, 0, 0)
    assert session.scalar(select(func.count()).select_from(MisuseCaseEvent)) == events


def test_an_incremental_scan_looks_only_at_licenses_with_news(
    session: Session, sealer: Sealer
) -> None:
    spreading = _spreading(session, sealer)
    quiet = _quiet(session, sealer)
    _scan(session, NOW)
    later = NOW + 2 * HOUR
    # One more network for the spreading license: a check-in after the scan.
    news = seat(session, spreading.id, activated_days_ago=0, now=NOW + HOUR)
    daily(session, news, 0, network="203.0.99", now=NOW + HOUR)

    summary, plan = _scan(session, later)

    assert not plan.full
    assert plan.since == NOW - misuse_scan.IN_FLIGHT
    assert list(plan.license_ids) == [spreading.id]
    assert quiet.id not in plan.license_ids
    assert summary.licenses == 1
    assert summary.cases.updated == 1  # the case's evidence grew by one network


def test_an_incremental_scan_with_nothing_new_evaluates_nothing(
    session: Session, sealer: Sealer
) -> None:
    _spreading(session, sealer)
    _scan(session, NOW)

    summary, plan = _scan(session, NOW + HOUR)

    assert (plan.full, list(plan.license_ids)) == (False, [])
    assert summary.licenses == 0


def test_a_full_pass_comes_when_the_last_is_older_than_the_period(
    session: Session, sealer: Sealer
) -> None:
    _quiet(session, sealer)
    _scan(session, NOW)

    _, incremental = _scan(session, NOW + 23 * HOUR)
    _, full = _scan(session, NOW + 24 * HOUR)

    assert not incremental.full
    assert full.full and len(full.license_ids) == 1


def _check_in(session: Session, license: License, at: datetime) -> None:
    daily(session, seat(session, license.id, activated_days_ago=30, now=at), 0, now=at)


def _release(session: Session, license: License, at: datetime) -> None:
    activation = seat(session, license.id, activated_days_ago=30, now=NOW - 10 * DAY)
    activation.status, activation.released_at, activation.release_reason = (
        "released",
        at,
        "deactivated",
    )


def _lease(session: Session, license: License, at: datetime) -> None:
    activation = seat(session, license.id, activated_days_ago=30, now=NOW - 10 * DAY)
    lease_presented(session, activation, "old", "new", at)


def _failures(session: Session, license: License, at: datetime) -> None:
    signature_failures(session, license.key_id, at, 3)


def _status(session: Session, license: License, at: datetime) -> None:
    license.status, license.status_changed_at = "suspended", at


def _exception_ended(session: Session, license: License, at: datetime) -> None:
    session.add(
        MisuseException(
            license_id=license.id,
            rule="NETWORK_SPREAD",
            kind="nat",
            reason="office",
            declared_by="test",
            declared_at=NOW - 10 * DAY,
            ends_at=at,
        )
    )


@pytest.mark.parametrize(
    "news", [_check_in, _release, _lease, _failures, _status, _exception_ended]
)
def test_each_kind_of_news_brings_its_license_into_the_next_scan(
    session: Session, sealer: Sealer, news: Callable[[Session, License, datetime], None]
) -> None:
    license = _license(session, sealer)
    _quiet(session, sealer)
    _license(session, sealer)
    session.flush()
    _scan(session, NOW)

    news(session, license, NOW + HOUR)
    session.flush()
    _, plan = _scan(session, NOW + 2 * HOUR)

    assert list(plan.license_ids) == [license.id]


def test_the_watermark_stays_until_the_whole_scan_is_done(session: Session, sealer: Sealer) -> None:
    for _ in range(3):
        _quiet(session, sealer)
    _scan(session, NOW)

    for license in session.scalars(select(License)):
        _check_in(session, license, NOW + HOUR)
    with pytest.raises(RuntimeError):
        _scan(session, NOW + 2 * HOUR, progress=Recorder(fail_after=2), chunk_size=1)

    state = session.get(MisuseScanState, misuse_scan.SCAN_NAME)
    assert state is not None
    assert state.scanned_until == NOW
