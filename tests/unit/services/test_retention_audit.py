"""Audit events past the audit period: pruned as a prefix behind a signed anchor, from
which verification starts; events about held data stop the prefix.

As of 1 January 2029 the audit period (730 days) keeps events from 2 January 2027 on.
The clock stands at OLD while the events are written, and at RUN (ten days after AS_OF)
from the run on: an event goes only once it is past the period when it is pruned.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent, AuditPruneAnchor, HoldScope, LegalHold
from licensing.privacy.categories import RetentionPeriods
from licensing.services import audit, audit_checkpoints, retention, server_keys
from licensing.services.retention import Step
from licensing.timeutil import utcnow
from tests.clock import Clock
from tests.factories import make_license

AS_OF = datetime(2029, 1, 1, tzinfo=UTC)
OLD = datetime(2026, 1, 1, tzinfo=UTC)
RECENT = datetime(2028, 6, 1, tzinfo=UTC)
RUN = AS_OF + timedelta(days=10)


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch, OLD)


def _events(session: Session, count: int, at: datetime, **subject: str) -> list[int]:
    return [
        audit.record(
            session,
            actor="test:audit",
            action="test.event",
            subject_type=subject.get("subject_type", "test"),
            subject_id=subject.get("subject_id", str(number)),
            data={"number": number},
            now=at,
        ).seq
        for number in range(count)
    ]


def _enforce(
    session: Session, sealer: Sealer | None, **options: object
) -> retention.RetentionReport:
    return retention.enforce(
        session,
        periods=RetentionPeriods(),
        as_of=AS_OF,
        dry_run=bool(options.pop("dry_run", False)),
        sealer=sealer,
        **options,  # type: ignore[arg-type]
    )


def _seqs(session: Session) -> list[int]:
    session.expire_all()
    return list(session.scalars(select(AuditEvent.seq).order_by(AuditEvent.seq)))


@pytest.fixture
def chain(session: Session, sealer: Sealer, clock: Clock) -> list[int]:
    """Six old events (the signing key's creation, at OLD, and five more), then three
    recent ones; then the clock moves on to the run."""
    server_keys.ensure_active_key(session, sealer, actor="test:pytest")
    _events(session, 5, OLD)
    _events(session, 3, RECENT)
    session.commit()
    clock.set(RUN)
    return _seqs(session)


OLD_EVENTS = 6


def test_the_old_prefix_is_pruned_behind_an_anchor_and_the_chain_still_verifies(
    session: Session, sealer: Sealer, chain: list[int]
) -> None:
    old = chain[:OLD_EVENTS]
    before = audit.verify(session)
    assert before.intact and before.pruned_through is None

    report = _enforce(session, sealer)

    assert report.counts[Step.AUDIT_EVENTS_PRUNED] == len(old)
    remaining = _seqs(session)
    assert remaining[0] == old[-1] + 1 and old[-1] not in remaining
    anchor = session.scalars(select(AuditPruneAnchor)).one()
    assert (anchor.seq, anchor.events) == (old[-1], len(old))
    verified = audit.verify(session)
    assert verified.intact, verified.problem
    assert verified.pruned_through == old[-1]
    # When it was pruned, not the as-of the run was given.
    assert verified.pruned_at is not None
    assert abs(verified.pruned_at - utcnow()) < timedelta(minutes=5)
    assert verified.pruned_at.date() == RUN.date() != AS_OF.date()
    assert verified.events == len(remaining)


def test_a_second_run_prunes_nothing(session: Session, sealer: Sealer, chain: list[int]) -> None:
    _enforce(session, sealer)
    left = _seqs(session)

    again = _enforce(session, sealer)

    assert again.counts[Step.AUDIT_EVENTS_PRUNED] == 0
    # Only the second run's own event was added; one anchor still.
    assert _seqs(session) == [*left, left[-1] + 1]
    assert session.scalar(select(func.count()).select_from(AuditPruneAnchor)) == 1
    assert audit.verify(session).intact


def test_a_dry_run_counts_the_prefix_and_writes_no_anchor(
    session: Session, sealer: Sealer, chain: list[int]
) -> None:
    dry = _enforce(session, sealer, dry_run=True)

    assert dry.counts[Step.AUDIT_EVENTS_PRUNED] == OLD_EVENTS
    assert _seqs(session) == chain
    assert session.scalar(select(func.count()).select_from(AuditPruneAnchor)) == 0


def test_an_altered_remaining_event_fails_verification(
    session: Session, sealer: Sealer, chain: list[int]
) -> None:
    _enforce(session, sealer)
    first = _seqs(session)[0]
    session.execute(update(AuditEvent).where(AuditEvent.seq == first).values(actor="someone else"))
    session.commit()

    report = audit.verify(session)

    assert not report.intact
    assert report.first_broken_seq == first


@pytest.mark.parametrize(
    "change",
    [{"hash": "f" * 64}, {"events": 2}, {"seq": 4}, {"token": "not.a.token"}],
    ids=["hash", "events", "seq", "token"],
)
def test_an_altered_anchor_fails_verification(
    session: Session, sealer: Sealer, chain: list[int], change: dict[str, object]
) -> None:
    _enforce(session, sealer)
    session.execute(update(AuditPruneAnchor).values(**change))
    session.commit()

    report = audit.verify(session)

    assert not report.intact
    assert report.problem is not None
    assert "prune anchor" in report.problem or "missing" in report.problem


def test_a_deleted_anchor_shows_the_missing_events(
    session: Session, sealer: Sealer, chain: list[int]
) -> None:
    _enforce(session, sealer)
    session.query(AuditPruneAnchor).delete()
    session.commit()

    report = audit.verify(session)

    assert not report.intact
    assert report.problem == "event 1 is missing"


def test_events_about_a_held_license_stop_the_prefix(
    session: Session, sealer: Sealer, clock: Clock
) -> None:
    server_keys.ensure_active_key(session, sealer, actor="test:pytest")
    held = make_license(session, sealer).license  # its events (at OLD) are old by AS_OF
    before = _seqs(session)
    about = _events(session, 2, OLD, subject_type="license", subject_id=str(held.id))
    _events(session, 3, OLD)
    _events(session, 1, RECENT)
    session.add(
        LegalHold(
            scope=HoldScope.LICENSE.value,
            license_id=held.id,
            matter="m",
            reason="r",
            review_on=date(2029, 6, 1),
            placed_by="test:pytest",
        )
    )
    session.commit()
    first_held = session.scalar(
        select(func.min(AuditEvent.seq)).where(AuditEvent.subject_id == str(held.id))
    )
    assert first_held is not None and first_held <= about[0]
    clock.set(RUN)

    report = _enforce(session, sealer)

    assert report.counts[Step.AUDIT_EVENTS_PRUNED] == first_held - 1
    # Every old event from the held one on is kept: the held ones and those after them.
    old_kept = len(before) + 2 + 3 - (first_held - 1)
    assert report.kept_by_hold[Step.AUDIT_EVENTS_PRUNED] == old_kept
    assert any(f"event {first_held}" in note for note in report.notes)
    assert _seqs(session)[0] == first_held
    assert audit.verify(session).intact


def test_without_a_key_nothing_is_pruned_and_the_report_says_so(
    session: Session, sealer: Sealer, chain: list[int]
) -> None:
    report = _enforce(session, None)

    assert report.counts[Step.AUDIT_EVENTS_PRUNED] == 0
    assert any("not pruned" in note for note in report.notes)
    assert _seqs(session)[: len(chain)] == chain


def test_a_broken_chain_is_never_anchored(
    session: Session, sealer: Sealer, chain: list[int]
) -> None:
    session.execute(update(AuditEvent).where(AuditEvent.seq == 2).values(actor="forged"))
    session.commit()

    dry = _enforce(session, sealer, dry_run=True)
    report = _enforce(session, sealer)

    assert dry.counts[Step.AUDIT_EVENTS_PRUNED] == report.counts[Step.AUDIT_EVENTS_PRUNED] == 0
    assert any("chain is broken" in note for note in report.notes)
    assert any("chain is broken" in note for note in dry.notes)
    assert session.scalar(select(func.count()).select_from(AuditPruneAnchor)) == 0


class _Crash(Exception):
    pass


class _CrashInPruning:
    def started(self, totals: object) -> None:
        pass

    def batch_done(self, step: Step, rows: int) -> None:
        if step == Step.AUDIT_EVENTS_PRUNED:
            raise _Crash


def test_a_prune_killed_half_way_verifies_and_the_next_run_finishes_it(
    session: Session, sealer: Sealer, chain: list[int]
) -> None:
    with pytest.raises(_Crash):
        _enforce(session, sealer, batch_size=2, progress=_CrashInPruning())
    session.rollback()
    assert _seqs(session)[0] == 3  # events 1 and 2 went, 3 to 6 are left behind the anchor
    assert audit.verify(session).intact

    resumed = _enforce(session, sealer, batch_size=2)

    assert resumed.counts[Step.AUDIT_EVENTS_PRUNED] == OLD_EVENTS - 2
    assert _seqs(session)[0] == OLD_EVENTS + 1
    assert audit.verify(session).intact


def test_the_newest_event_stays_when_every_event_is_old(
    session: Session, sealer: Sealer, clock: Clock
) -> None:
    server_keys.ensure_active_key(session, sealer, actor="test:pytest")
    _events(session, 4, OLD)
    session.commit()
    clock.set(RUN)

    report = _enforce(session, sealer)

    assert report.counts[Step.AUDIT_EVENTS_PRUNED] == 4  # the key's creation, and three
    # The newest old event stays, and the run's own event (seq 6) links to it.
    assert _seqs(session) == [5, 6]
    assert audit.verify(session).intact
    assert audit.head(session).seq == 6


def test_a_checkpoint_can_still_be_signed_after_pruning(
    session: Session, sealer: Sealer, chain: list[int]
) -> None:
    _enforce(session, sealer)

    checkpoint = audit_checkpoints.issue(session, sealer, issuer="test", now=AS_OF)

    assert checkpoint.head == audit.head(session)
    assert audit.verify(session, checkpoint=checkpoint.head).intact


def test_an_as_of_ahead_of_the_clock_prunes_only_what_is_past_the_period_now(
    session: Session, sealer: Sealer, clock: Clock
) -> None:
    """Ten days after OLD, only the events of 800 days before it are past the period; the
    as-of (2029) alone would take the key's creation (at OLD) too, and that anchor would
    not verify."""
    _events(session, 3, OLD - timedelta(days=800))
    server_keys.ensure_active_key(session, sealer, actor="test:pytest")  # at OLD
    _events(session, 2, RECENT)
    session.commit()
    clock.set(OLD + timedelta(days=10))

    dry = _enforce(session, sealer, dry_run=True)
    report = _enforce(session, sealer)

    assert dry.counts[Step.AUDIT_EVENTS_PRUNED] == report.counts[Step.AUDIT_EVENTS_PRUNED] == 3
    assert _seqs(session)[0] == 4  # the key's creation, not yet 730 days old
    verified = audit.verify(session, sealer=sealer)
    assert verified.intact, verified.problem
    assert verified.pruned_through == 3
