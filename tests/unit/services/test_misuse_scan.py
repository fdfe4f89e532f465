"""The misuse scan: full and incremental passes, idempotence, the watermark, the lock."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Rule
from licensing.misuse.rules import evaluate
from licensing.misuse.thresholds import Thresholds
from licensing.models import Activation, License
from licensing.models.misuse import (
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    MisuseScanState,
)
from licensing.services import misuse_scan
from licensing.services.misuse_history import HistorySource
from licensing.services.misuse_scan import ChunkOutcome, ScanPlan, ScanSummary
from tests.factories import make_edition, make_license, make_release
from tests.unit.services.misuse_rows import (
    DAY,
    HOUR,
    NOW,
    check_in,
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
    """A license whose last change of status was long before the scans of the test, with
    no end to its upgrade protection: its product has no release records, and with an end
    any version would be uncovered (as the check-in verdict would answer)."""
    license = make_license(session, sealer).license
    license.status_changed_at = NOW - 60 * DAY
    license.upgrade_protection_until = None
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
    check_in(session, seat(session, license.id, activated_days_ago=30, now=at), at)


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


def _settled(session: Session, sealer: Sealer, **changes: object) -> tuple[License, Activation]:
    """A license whose one seat has checked in daily for 20 days, all seen by a scan."""
    license = _license(session, sealer)
    for name, value in changes.items():
        setattr(license, name, value)
    activation = seat(session, license.id, activated_days_ago=20)
    daily(session, activation, 20, 1)
    check_in(session, activation, NOW - 2 * HOUR)
    return license, activation


def _next_plan(
    session: Session, news: Callable[[Activation], None], activation: Activation
) -> ScanPlan:
    _scan(session, NOW)
    news(activation)
    return _scan(session, NOW + 3 * HOUR)[1]


def test_a_check_in_that_repeats_what_was_seen_is_no_news(session: Session, sealer: Sealer) -> None:
    _, activation = _settled(session, sealer)

    plan = _next_plan(session, lambda a: check_in(session, a, NOW + 2 * HOUR), activation)

    assert list(plan.license_ids) == []


@pytest.mark.parametrize(
    "change",
    [
        {"server": "app-2.example.com"},
        {"version": "3.0"},
        {"host": 99},  # a new address in the same network: NETWORK_SPREAD counts addresses
        {"network": "192.0.2"},
    ],
)
def test_a_check_in_showing_a_new_value_is_news(
    session: Session, sealer: Sealer, change: dict[str, Any]
) -> None:
    license, activation = _settled(session, sealer)

    plan = _next_plan(session, lambda a: check_in(session, a, NOW + 2 * HOUR, **change), activation)

    assert list(plan.license_ids) == [license.id]


def test_a_second_network_on_one_day_is_news_even_when_seen_before(
    session: Session, sealer: Sealer
) -> None:
    license, activation = _settled(session, sealer)
    check_in(session, activation, NOW - 3 * HOUR, network="192.0.2")  # seen by the scan

    plan = _next_plan(session, lambda a: check_in(session, a, NOW + 2 * HOUR), activation)

    assert list(plan.license_ids) == [license.id]


@pytest.mark.parametrize("kind", ["suspended", "over its seats", "with a case"])
def test_a_repeated_check_in_is_news_where_findings_grow_with_time(
    session: Session, sealer: Sealer, kind: str
) -> None:
    license, activation = _settled(session, sealer)
    if kind == "suspended":
        license.status = "suspended"
    elif kind == "over its seats":
        daily(session, seat(session, license.id, activated_days_ago=20), 20, 1, server="app-2")
    else:
        session.add(
            MisuseCase(
                license_id=license.id,
                rule="SERVER_SPREAD",
                severity="medium",
                summary="seeded",
                evidence={},
                first_seen=NOW - DAY,
                last_seen=NOW,
            )
        )
    session.flush()

    plan = _next_plan(session, lambda a: check_in(session, a, NOW + 2 * HOUR), activation)

    assert list(plan.license_ids) == [license.id]


def test_an_incremental_scan_finds_what_a_full_pass_would(session: Session, sealer: Sealer) -> None:
    """A day after a full pass, with check-ins that repeat and check-ins that tip quiet
    licenses over a rule's threshold: the incremental scan's cases are those a full
    evaluation at the same moment finds."""
    edition = make_edition(session)
    make_release(session, product=edition.product, version="4.0", released_at=NOW - 20 * DAY)
    make_release(session, product=edition.product, version="2.0.0", released_at=NOW - 900 * DAY)
    tomorrow = NOW + 20 * HOUR
    tips: list[Callable[[], None]] = []

    def settled(*servers: str, **changes: object) -> tuple[License, list[Activation]]:
        license = make_license(session, sealer, edition=edition).license
        license.status_changed_at = NOW - 60 * DAY
        for name, value in changes.items():
            setattr(license, name, value)
        seats = []
        for n, server in enumerate(servers or ("app-1",)):
            activation = seat(session, license.id, activated_days_ago=40)
            daily(session, activation, 20, 1, network=f"203.0.{n}", server=server)
            check_in(session, activation, NOW - 2 * HOUR, network=f"203.0.{n}", server=server)
            seats.append(activation)
        return license, seats

    for _ in range(5):  # quiet, and they stay so: tomorrow's check-ins repeat
        _, (quiet,) = settled()
        tips.append(
            lambda a=quiet: check_in(session, a, tomorrow, network="203.0.0", server="app-1")
        )
    # NETWORK_SPREAD tips over: a sixth network tomorrow (five seats, ten allowed).
    _, sites = settled(*(f"s{n}" for n in range(5)), max_activations_override=10)
    tips.append(lambda: check_in(session, sites[4], tomorrow, network="203.0.9", server="s4"))
    # SERVER_SPREAD tips over: a fourth server name on one seat. Tomorrow is in the next
    # key month, where servers are counted afresh (hashes change with the month): the
    # three names seen today come back tomorrow with the fourth.
    _, (renamed,) = settled()
    for name in ("app-2", "app-3"):
        check_in(session, renamed, NOW - 3 * HOUR, network="203.0.0", server=name)
    for name in ("app-1", "app-2", "app-3", "app-4"):
        tips.append(
            lambda name=name: check_in(session, renamed, tomorrow, network="203.0.0", server=name)
        )
    # VERSION_NOT_COVERED tips over: a release newer than the protection, run tomorrow.
    _, (upgraded,) = settled(upgrade_protection_until=NOW - 100 * DAY)
    tips.append(
        lambda: check_in(
            session, upgraded, tomorrow, network="203.0.0", server="app-1", version="4.0"
        )
    )
    # MIGRATION_OVERSTAY tips over: two seats side by side pass the 30-day window.
    moving = make_license(session, sealer, edition=edition).license
    moving.status_changed_at = NOW - 60 * DAY
    both = [seat(session, moving.id, activated_days_ago=70) for _ in range(2)]
    daily(session, both[0], 70, 1)
    daily(session, both[1], 29, 1, server="app-2")
    for n, activation in enumerate(both):
        check_in(session, activation, NOW - 2 * HOUR, server=f"app-{n + 1}")
        tips.append(lambda a=activation, n=n: check_in(session, a, tomorrow, server=f"app-{n + 1}"))

    first, _ = _scan(session, NOW, full=True)
    assert sum(first.findings.values()) == 0
    for tip in tips:
        tip()
    _, plan = _scan(session, tomorrow + HOUR)

    assert not plan.full
    every = [license.id for license in session.scalars(select(License).order_by(License.id))]
    source = HistorySource(session, now=tomorrow + HOUR, lookback=Thresholds().lookback)
    expected = {
        (uuid.UUID(h.license_id), f.rule.value)
        for h in source.histories(every)
        for f in evaluate(h, Thresholds(), tomorrow + HOUR)
    }
    assert {rule for _, rule in expected} == {
        "NETWORK_SPREAD",
        "SERVER_SPREAD",
        "VERSION_NOT_COVERED",
        "MIGRATION_OVERSTAY",
    }
    assert {(license_id, rule) for license_id, rule, _ in _cases(session)} == expected
    assert len(plan.license_ids) == 4  # the quiet repeats were not looked at


def test_a_rule_under_an_active_exception_opens_no_case(session: Session, sealer: Sealer) -> None:
    excepted = _spreading(session, sealer)
    session.add(
        MisuseException(
            license_id=excepted.id,
            rule="NETWORK_SPREAD",
            kind="nat",
            reason="branch offices behind one provider",
            declared_by="test",
            declared_at=NOW - 10 * DAY,
            ends_at=NOW + 10 * DAY,
        )
    )
    other = _spreading(session, sealer)
    session.flush()

    summary, _ = _scan(session, NOW)

    assert summary.findings == {Rule.NETWORK_SPREAD: 2}
    assert (summary.cases.opened, summary.cases.quiet) == (1, 1)
    assert summary.to_json()["quiet_by_exception"] == 1
    assert _cases(session) == [(other.id, "NETWORK_SPREAD", "open")]
