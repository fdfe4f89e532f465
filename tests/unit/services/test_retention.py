"""The retention job: raw usage pseudonymised, old usage and disclosures deleted, on time.

Seeded around the boundaries of the default periods as of 1 June 2026: raw usage is kept
30 days (observed on or after 2 May), usage 13 months (on or after 1 May 2025),
disclosures 730 days (on or after 1 June 2024, midnight).
"""

from __future__ import annotations

import os
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, AuditEvent, Disclosure, UsageObservation
from licensing.privacy.categories import CategoryCode, RetentionPeriods
from licensing.privacy.register import COLUMNS, columns_of
from licensing.services import retention
from licensing.services.retention import Step
from tests.factories import make_activation, make_license, make_partner

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
PERIODS = RetentionPeriods()

# day observed -> (rows with raw values, what the job must do to them)
RAW_KEPT = [date(2026, 5, 31), date(2026, 5, 31), date(2026, 5, 2)]  # 30 days: still raw
PSEUDONYMISED = [date(2026, 5, 1)] * 3 + [date(2025, 5, 1)]  # 31 days .. exactly 13 months
DELETED = [date(2025, 4, 30), date(2024, 1, 1)]  # older than 13 months
ALREADY_PSEUDONYMISED = [date(2026, 1, 1)]


@dataclass
class Seeded:
    observations: dict[str, list[int]]
    stale_activation: Activation
    fresh_activation: Activation
    old_disclosure: int
    recent_disclosure: int


def _observation(
    session: Session, activation: Activation, day: date, *, raw: bool
) -> UsageObservation:
    n = len(session.scalars(select(UsageObservation.id)).all())
    row = UsageObservation(
        activation_id=activation.id,
        license_id=activation.license_id,
        day=day,
        observation_key=os.urandom(32),
        ip=f"198.51.100.{n % 250 + 1}" if raw else None,
        ip_hash=os.urandom(32),
        ip_prefix="198.51.100.0/24",
        server_name=f"host-{n}.example.com" if raw else None,
        server_name_hash=os.urandom(32),
        product_version="1.0.0",
        first_seen=datetime.combine(day, datetime.min.time(), UTC),
        last_seen=datetime.combine(day, datetime.min.time(), UTC),
        usage={"mailboxes": 5},
    )
    session.add(row)
    session.flush()
    return row


@pytest.fixture
def seeded(session: Session, sealer: Sealer) -> Seeded:
    issued = make_license(session, sealer)
    license_id = issued.license.id
    stale = make_activation(
        session, license_id, silent_for=timedelta(days=30, seconds=1), now=AS_OF
    )
    fresh = make_activation(session, license_id, silent_for=timedelta(days=29), now=AS_OF)
    groups = {
        "raw_kept": [_observation(session, fresh, d, raw=True).id for d in RAW_KEPT],
        "pseudonymised": [_observation(session, fresh, d, raw=True).id for d in PSEUDONYMISED],
        "deleted": [_observation(session, stale, d, raw=True).id for d in DELETED],
        "already": [_observation(session, fresh, d, raw=False).id for d in ALREADY_PSEUDONYMISED],
    }
    partner = make_partner(session)

    def disclosure(at: datetime) -> int:
        row = Disclosure(
            partner_id=partner.id,
            license_id=license_id,
            partner_key_id="pk_test",
            fields=["status"],
            purpose="verification",
            request_id=uuid.uuid4().hex,
            disclosed_at=at,
        )
        session.add(row)
        session.flush()
        return row.id

    old = disclosure(AS_OF - timedelta(days=730, seconds=1))
    recent = disclosure(AS_OF - timedelta(days=729))
    session.commit()
    return Seeded(groups, stale, fresh, old, recent)


NOTHING = dict.fromkeys(Step, 0)
EXPECTED = {
    **NOTHING,
    Step.USAGE_PSEUDONYMISED: len(PSEUDONYMISED),
    Step.ACTIVATION_SERVER_NAMES_CLEARED: 1,
    Step.USAGE_DELETED: len(DELETED),
    Step.DISCLOSURES_DELETED: 1,
    Step.HASH_KEYS_DESTROYED: 0,  # no month's key is stored by these rows (tests/usage_rows)
}


def _enforce(session: Session, **options: object) -> retention.RetentionReport:
    return retention.enforce(
        session,
        periods=options.pop("periods", PERIODS),  # type: ignore[arg-type]
        as_of=AS_OF,
        dry_run=bool(options.pop("dry_run", False)),
        **options,  # type: ignore[arg-type]
    )


def _rows(session: Session, ids: list[int]) -> list[UsageObservation]:
    session.expire_all()
    return list(
        session.scalars(
            select(UsageObservation)
            .where(UsageObservation.id.in_(ids))
            .order_by(UsageObservation.id)
        )
    )


def test_enforce_pseudonymises_deletes_and_keeps_exactly_what_is_due(
    session: Session, seeded: Seeded
) -> None:
    before = {
        r.id: (r.ip_hash, r.ip_prefix, r.server_name_hash)
        for r in _rows(session, [i for ids in seeded.observations.values() for i in ids])
    }

    report = _enforce(session)

    assert report.counts == EXPECTED
    pseudonymised = _rows(session, seeded.observations["pseudonymised"])
    assert len(pseudonymised) == len(PSEUDONYMISED)
    for row in pseudonymised:
        assert (row.ip, row.server_name) == (None, None)
        assert (row.ip_hash, row.ip_prefix, row.server_name_hash) == before[row.id]
        assert row.pseudonymised_at == AS_OF
        assert row.usage == {"mailboxes": 5}
    raw = _rows(session, seeded.observations["raw_kept"])
    assert len(raw) == len(RAW_KEPT)
    assert all(r.ip and r.server_name and r.pseudonymised_at is None for r in raw)
    assert _rows(session, seeded.observations["deleted"]) == []
    (already,) = _rows(session, seeded.observations["already"])
    assert already.pseudonymised_at is None  # nothing to clear: not counted, not touched
    assert len(session.scalars(select(UsageObservation.id)).all()) == 8


def test_enforce_clears_stale_activation_server_names_but_keeps_fingerprints(
    session: Session, seeded: Seeded
) -> None:
    fingerprint = seeded.stale_activation.fingerprint

    _enforce(session)

    session.expire_all()
    assert seeded.stale_activation.server_name is None
    # Verification matches check-ins by fingerprint: the job leaves it (and reports why).
    assert seeded.stale_activation.fingerprint == fingerprint
    assert seeded.fresh_activation.server_name == "mail.example.com"


def test_enforce_deletes_disclosures_past_their_period(session: Session, seeded: Seeded) -> None:
    _enforce(session)

    session.expire_all()
    kept = session.scalars(select(Disclosure.id)).all()
    assert seeded.old_disclosure not in kept
    assert seeded.recent_disclosure in kept


def test_a_second_run_changes_nothing(session: Session, seeded: Seeded) -> None:
    _enforce(session)

    assert _enforce(session).counts == NOTHING


def test_a_dry_run_counts_what_the_real_run_changes_and_changes_nothing(
    session: Session, seeded: Seeded
) -> None:
    events = len(session.scalars(select(AuditEvent.seq)).all())

    dry = _enforce(session, dry_run=True)

    assert dry.dry_run and dry.counts == EXPECTED
    assert all(r.ip is not None for r in _rows(session, seeded.observations["pseudonymised"]))
    assert len(_rows(session, seeded.observations["deleted"])) == len(DELETED)
    assert seeded.stale_activation.server_name == "mail.example.com"
    assert seeded.old_disclosure in session.scalars(select(Disclosure.id)).all()
    assert len(session.scalars(select(AuditEvent.seq)).all()) == events
    assert _enforce(session).counts == dry.counts


class _Crash(Exception):
    pass


class _CrashAfterFirstBatch:
    def __init__(self) -> None:
        self.batches: list[tuple[Step, int]] = []

    def started(self, totals: object) -> None:
        pass

    def batch_done(self, step: Step, rows: int) -> None:
        self.batches.append((step, rows))
        raise _Crash


def test_a_run_interrupted_after_a_batch_resumes_and_finishes_with_the_right_totals(
    session: Session, seeded: Seeded
) -> None:
    crash = _CrashAfterFirstBatch()
    with pytest.raises(_Crash):
        _enforce(session, batch_size=2, progress=crash)
    # The first batch was committed before the crash.
    assert crash.batches == [(Step.USAGE_PSEUDONYMISED, 2)]
    session.rollback()
    done = [r for r in _rows(session, seeded.observations["pseudonymised"]) if r.ip is None]
    assert len(done) == 2

    resumed = _enforce(session, batch_size=2)

    assert resumed.counts == {**EXPECTED, Step.USAGE_PSEUDONYMISED: len(PSEUDONYMISED) - 2}
    assert all(r.ip is None for r in _rows(session, seeded.observations["pseudonymised"]))
    assert _rows(session, seeded.observations["deleted"]) == []
    assert _enforce(session, batch_size=2).counts == NOTHING


def test_batches_smaller_than_the_backlog_reach_the_same_counts(
    session: Session, seeded: Seeded
) -> None:
    batches: list[tuple[Step, int]] = []

    class Recorder:
        def started(self, totals: object) -> None:
            pass

        def batch_done(self, step: Step, rows: int) -> None:
            batches.append((step, rows))

    report = _enforce(session, batch_size=1, progress=Recorder())

    assert report.counts == EXPECTED
    assert len(batches) == sum(EXPECTED.values())
    assert all(rows == 1 for _, rows in batches)


def test_a_real_run_records_one_audit_event_with_the_counts_and_no_personal_data(
    session: Session, seeded: Seeded
) -> None:
    _enforce(session)

    event = session.scalars(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1)).one()
    assert event.action == "privacy.retention_enforced"
    assert event.actor == "system:privacy-enforce"
    assert event.data == {
        "as_of": AS_OF.isoformat(),
        **{step.value: n for step, n in EXPECTED.items()},
        "kept_by_hold": {},
    }


def test_the_raw_period_comes_from_the_periods(session: Session, seeded: Seeded) -> None:
    # Raw for one day only: the rows seen on 2 May and 31 May go too (before 31 May).
    report = _enforce(session, periods=RetentionPeriods(raw_usage_days=1), dry_run=True)

    assert report.counts[Step.USAGE_PSEUDONYMISED] == len(PSEUDONYMISED) + 1


def test_the_columns_cleared_are_the_registers_raw_usage_columns(
    session: Session, seeded: Seeded
) -> None:
    # Observed by effect, not read from the job: which columns a run turns NULL.
    (row_id,) = seeded.observations["pseudonymised"][:1]
    before = {c: getattr(_rows(session, [row_id])[0], c) for c in COLUMNS["usage_observations"]}

    _enforce(session)

    (after,) = _rows(session, [row_id])
    nulled = {c for c, v in before.items() if v is not None and getattr(after, c) is None}
    register_raw = {
        c.column for c in columns_of(CategoryCode.RAW_USAGE) if c.table == "usage_observations"
    }
    assert nulled == register_raw == {"ip", "server_name"}


def test_only_declared_exceptions_of_the_register_are_left_uncleared() -> None:
    for table in ("usage_observations", "activations"):
        raw = set(retention.raw_columns(table))
        kept = {c for t, c in retention.KEPT_FOR_VERIFICATION if t == table}
        assert set(retention.cleared_columns(table)) == raw - kept
    # The register calls the fingerprint raw usage; the job keeps it for verification.
    assert ("activations", "fingerprint") in retention.KEPT_FOR_VERIFICATION
    assert "fingerprint" in retention.raw_columns("activations")
    assert retention.cleared_columns("activations") == ("server_name",)
    # An exception the register no longer calls raw usage is stale.
    for table, column in retention.KEPT_FOR_VERIFICATION:
        assert column in retention.raw_columns(table), (table, column)


def test_the_report_names_what_it_kept_and_why(session: Session, seeded: Seeded) -> None:
    report = _enforce(session, dry_run=True)

    assert [(k.table, k.column) for k in report.kept] == sorted(retention.KEPT_FOR_VERIFICATION)
    assert report.to_json()["counts"] == {s.value: n for s, n in EXPECTED.items()}
