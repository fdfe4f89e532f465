"""Retention of the records beside usage: customers and staff anonymised, misuse evidence
and accountability records deleted, each on its period, and never what a hold keeps.

As of 1 January 2029 with the default periods: contracts end 90 days before (licenses
ended before 3 October 2028), misuse evidence 13 months (decided before 1 December
2027), the audit period 730 days (before 2 January 2027).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import (
    ApprovalRequest,
    Customer,
    HoldScope,
    LegalHold,
    License,
    LicenseStatus,
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    PrivacyRequest,
    StaffUser,
)
from licensing.privacy.categories import RetentionPeriods
from licensing.services import retention, staff_sign_in
from licensing.services import staff as accounts
from licensing.services.retention import Step
from tests.factories import make_customer, make_license

AS_OF = datetime(2029, 1, 1, tzinfo=UTC)
LONG_AGO = datetime(2026, 12, 1, tzinfo=UTC)  # past every period
MISUSE_OLD = datetime(2027, 6, 1, tzinfo=UTC)  # past 13 months, inside the audit period
RECENT = datetime(2028, 12, 1, tzinfo=UTC)  # inside every period
PASSWORD = "correct horse battery staple"


def _at(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), UTC)


@dataclass
class Seeded:
    customers: dict[str, uuid.UUID]
    staff: dict[str, uuid.UUID]
    cases: dict[str, uuid.UUID]
    held_license: uuid.UUID
    held_customer: uuid.UUID


def _license(session: Session, sealer: Sealer, customer: Customer, **when: datetime) -> License:
    license = make_license(session, sealer, customer=customer).license
    for column, value in when.items():
        setattr(license, column, value)
    return license


def _hold(session: Session, **subject: object) -> LegalHold:
    scope = HoldScope.LICENSE if "license_id" in subject else HoldScope.CUSTOMER
    hold = LegalHold(
        scope=scope.value,
        matter="matter 1",
        reason="a claim is expected",
        review_on=date(2029, 6, 1),
        placed_by="test:pytest",
        **subject,
    )
    session.add(hold)
    session.flush()
    return hold


def _case(session: Session, license_id: uuid.UUID, rule: str, **state: object) -> MisuseCase:
    case = MisuseCase(
        license_id=license_id,
        rule=rule,
        severity="high",
        summary="two servers",
        first_seen=LONG_AGO,
        last_seen=LONG_AGO,
        **state,
    )
    session.add(case)
    session.flush()
    for kind in ("opened", "decided"):
        session.add(MisuseCaseEvent(case_id=case.id, actor="test:pytest", kind=kind, at=LONG_AGO))
    session.flush()
    return case


def _exception(session: Session, license_id: uuid.UUID, **ends: object) -> None:
    session.add(
        MisuseException(
            license_id=license_id,
            rule="SERVER_SPREAD",
            kind="failover server",
            reason="a standby",
            declared_by="test:pytest",
            **ends,
        )
    )


def _request(session: Session, customer_id: uuid.UUID, **state: object) -> None:
    session.add(
        PrivacyRequest(
            kind="access",
            customer_id=customer_id,
            received_at=datetime(2026, 11, 1, tzinfo=UTC),
            due_at=datetime(2026, 12, 1, tzinfo=UTC),
            identity_verification="reply from the licensed e-mail",
            recorded_by="test:pytest",
            **state,
        )
    )


def _staff(session: Session, name: str, *, disabled_at: datetime | None) -> StaffUser:
    staff = accounts.add_staff(
        session,
        email=f"{name}@example.org",
        display_name=name.title(),
        role="analyst",
        password=PASSWORD,
        actor="test:pytest",
    )
    staff.disabled_at = disabled_at
    return staff


@pytest.fixture
def seeded(session: Session, sealer: Sealer) -> Seeded:
    customers: dict[str, Customer] = {
        name: make_customer(session, name=f"Customer {name}")
        for name in ("expired", "revoked", "recent", "running", "none", "held", "license_held")
    }
    _license(session, sealer, customers["expired"], expires_at=_at(date(2028, 1, 1)))
    _license(
        session,
        sealer,
        customers["revoked"],
        status=LicenseStatus.REVOKED.value,
        status_changed_at=_at(date(2028, 1, 1)),
    )
    _license(session, sealer, customers["recent"], expires_at=_at(date(2028, 12, 1)))
    _license(session, sealer, customers["running"], expires_at=_at(date(2027, 1, 1)))
    _license(session, sealer, customers["running"])  # perpetual: the contract runs on
    customers["none"].created_at = LONG_AGO
    _license(session, sealer, customers["held"], expires_at=_at(date(2028, 1, 1)))
    held = _license(session, sealer, customers["license_held"], expires_at=_at(date(2028, 1, 1)))
    _hold(session, customer_id=customers["held"].id)
    _hold(session, license_id=held.id)

    staff = {
        "gone": _staff(session, "gone", disabled_at=LONG_AGO),
        "lately": _staff(session, "lately", disabled_at=RECENT),
        "active": _staff(session, "active", disabled_at=None),
        "admin": _staff(session, "admin", disabled_at=None),
    }

    free = _license(session, sealer, customers["recent"]).id
    cases = {
        "dismissed": _case(
            session, free, "SERVER_SPREAD", status="dismissed", decided_at=MISUSE_OLD
        ),
        "suspended": _case(
            session,
            free,
            "NETWORK_SPREAD",
            status="confirmed",
            decided_at=MISUSE_OLD,
            escalation_step="suspend",
            escalated_at=MISUSE_OLD,
        ),
        "ladder_running": _case(
            session,
            free,
            "CLONED_INSTANCE",
            status="confirmed",
            decided_at=MISUSE_OLD,
            escalation_step="final_notice",
            escalated_at=MISUSE_OLD,
        ),
        "lately": _case(session, free, "ACTIVATION_CHURN", status="dismissed", decided_at=RECENT),
        "open": _case(session, free, "MIGRATION_OVERSTAY"),
        "held": _case(session, held.id, "SERVER_SPREAD", status="dismissed", decided_at=MISUSE_OLD),
    }
    # A confirmed case placed a hold on its license (in force), another one a hold since
    # released long ago: the first keeps its case, the second goes with its case.
    placed = _license(session, sealer, customers["recent"])
    cases["placed_hold"] = _case(
        session,
        placed.id,
        "SERVER_SPREAD",
        status="confirmed",
        escalation_step="suspend",
        escalated_at=MISUSE_OLD,
    )
    _hold(session, license_id=placed.id, case_id=cases["placed_hold"].id)
    released = _hold(session, license_id=free, case_id=cases["dismissed"].id)
    released.released_at = LONG_AGO
    lately_released = _hold(session, license_id=free)
    lately_released.released_at = RECENT

    _exception(session, free, ends_at=RECENT, ended_at=MISUSE_OLD)
    _exception(session, free, ends_at=MISUSE_OLD)
    _exception(session, free, ends_at=RECENT)
    _exception(session, held.id, ends_at=MISUSE_OLD)

    _request(session, customers["recent"].id, status="completed", closed_at=LONG_AGO)
    _request(session, customers["recent"].id, status="refused", closed_at=RECENT)
    _request(session, customers["recent"].id)  # open
    _request(session, customers["held"].id, status="completed", closed_at=LONG_AGO)

    def approval(subject: uuid.UUID, status: str, decided_at: datetime | None) -> None:
        session.add(
            ApprovalRequest(
                action="license.revoke",
                subject_id=subject,
                reason="fraud",
                requested_by=staff["active"].id,
                requested_at=LONG_AGO,
                status=status,
                decided_by=staff["admin"].id if decided_at else None,
                decided_at=decided_at,
            )
        )

    approval(free, "approved", LONG_AGO)
    approval(free, "rejected", RECENT)
    approval(held.id, "rejected", LONG_AGO)
    session.commit()
    return Seeded(
        customers={k: c.id for k, c in customers.items()},
        staff={k: s.id for k, s in staff.items()},
        cases={k: c.id for k, c in cases.items()},
        held_license=held.id,
        held_customer=customers["held"].id,
    )


EXPECTED = {
    Step.CUSTOMERS_ANONYMISED: 3,  # expired, revoked, never licensed
    Step.STAFF_ANONYMISED: 1,
    Step.LEGAL_HOLDS_DELETED: 1,
    Step.MISUSE_CASES_DELETED: 2,  # dismissed, suspended
    Step.MISUSE_EXCEPTIONS_DELETED: 2,
    Step.PRIVACY_REQUESTS_DELETED: 1,
    Step.APPROVALS_DELETED: 1,
}
KEPT_BY_HOLD = {
    Step.CUSTOMERS_ANONYMISED: 2,  # a customer hold, a hold on the customer's license
    Step.MISUSE_CASES_DELETED: 2,  # a held license's case, the case whose hold is in force
    Step.MISUSE_EXCEPTIONS_DELETED: 1,
    Step.PRIVACY_REQUESTS_DELETED: 1,
    Step.APPROVALS_DELETED: 1,
}


def _enforce(session: Session, **options: object) -> retention.RetentionReport:
    return retention.enforce(
        session,
        periods=RetentionPeriods(),
        as_of=AS_OF,
        dry_run=bool(options.pop("dry_run", False)),
        **options,  # type: ignore[arg-type]
    )


def _only(counts: dict[Step, int]) -> dict[Step, int]:
    return {step: counts[step] for step in EXPECTED}


def _held(kept: dict[Step, int]) -> dict[Step, int]:
    """The steps of these records that a hold kept rows of (audit pruning has its tests)."""
    return {step: n for step, n in kept.items() if n and step in EXPECTED}


def _count(session: Session, model: type) -> int:
    return int(session.scalar(select(func.count()).select_from(model)) or 0)


def test_each_step_changes_exactly_what_is_due_and_not_held(
    session: Session, seeded: Seeded
) -> None:
    report = _enforce(session)

    assert _only(report.counts) == EXPECTED
    assert _held(report.kept_by_hold) == KEPT_BY_HOLD
    session.expire_all()
    anonymised = {
        name for name, i in seeded.customers.items() if session.get(Customer, i).anonymised_at
    }
    assert anonymised == {"expired", "revoked", "none"}
    held = session.get(Customer, seeded.held_customer)
    assert held is not None and held.name == "Customer held"
    cases = {name for name, i in seeded.cases.items() if session.get(MisuseCase, i) is not None}
    assert cases == {"ladder_running", "lately", "open", "held", "placed_hold"}
    # The deleted cases' history went with them; the kept cases' stayed.
    assert _count(session, MisuseCaseEvent) == 2 * len(cases)
    assert _count(session, MisuseException) == 2
    assert _count(session, PrivacyRequest) == 3
    assert _count(session, LegalHold) == 4
    assert _count(session, ApprovalRequest) == 2


def test_the_report_and_the_audit_event_say_what_holds_kept(
    session: Session, seeded: Seeded
) -> None:
    report = _enforce(session)

    data = report.to_json()
    assert data["kept_by_hold"]["customers_anonymised"] == 2
    assert data["counts"]["customers_anonymised"] == 3
    event = retention.audit.list_events(session, action=retention.ENFORCED_ACTION, limit=1)[0]
    recorded = {Step(s): n for s, n in event.data["kept_by_hold"].items()}
    assert _held(recorded) == KEPT_BY_HOLD
    assert event.data["staff_anonymised"] == 1
    # Counts only: no name or address of what it changed.
    assert "Customer" not in str(event.data) and "@" not in str(event.data)


def test_a_dry_run_counts_exactly_and_changes_nothing(session: Session, seeded: Seeded) -> None:
    dry = _enforce(session, dry_run=True)

    assert _only(dry.counts) == EXPECTED
    assert _held(dry.kept_by_hold) == KEPT_BY_HOLD
    session.expire_all()
    assert all(session.get(Customer, i).anonymised_at is None for i in seeded.customers.values())
    assert _count(session, MisuseCase) == len(seeded.cases)
    assert _only(_enforce(session).counts) == _only(dry.counts)


def test_a_second_run_changes_nothing(session: Session, seeded: Seeded) -> None:
    _enforce(session)

    again = _enforce(session)

    assert _only(again.counts) == dict.fromkeys(EXPECTED, 0)
    assert _held(again.kept_by_hold) == KEPT_BY_HOLD


def test_an_anonymised_staff_account_keeps_its_row_and_can_never_sign_in(
    session: Session, seeded: Seeded
) -> None:
    _enforce(session)

    session.expire_all()
    gone = session.get(StaffUser, seeded.staff["gone"])
    assert gone is not None and gone.anonymised_at == AS_OF
    assert gone.email.endswith("@anonymised.invalid") and "gone" not in gone.email
    assert gone.display_name == "anonymised staff account"
    assert "argon2" not in gone.password_hash
    lately = session.get(StaffUser, seeded.staff["lately"])
    assert lately is not None and lately.email == "lately@example.org"
    policy = staff_sign_in.LockoutPolicy()
    old = staff_sign_in.authenticate(session, "gone@example.org", PASSWORD, policy=policy)
    assert old.outcome == staff_sign_in.SignInOutcome.REFUSED
    # Even switched back on by hand, the account opens to no password.
    gone.disabled_at = None
    session.flush()
    again = staff_sign_in.authenticate(session, gone.email, PASSWORD, policy=policy)
    assert again.outcome == staff_sign_in.SignInOutcome.DISABLED


def test_releasing_a_hold_lets_the_next_run_anonymise_the_customer(
    session: Session, seeded: Seeded
) -> None:
    _enforce(session)
    for hold in session.scalars(
        select(LegalHold).where(LegalHold.customer_id == seeded.held_customer)
    ):
        hold.released_at = RECENT
    session.commit()

    report = _enforce(session)

    assert report.counts[Step.CUSTOMERS_ANONYMISED] == 1
    assert report.counts[Step.PRIVACY_REQUESTS_DELETED] == 1
    session.expire_all()
    customer = session.get(Customer, seeded.held_customer)
    assert customer is not None and customer.anonymised_at == AS_OF
    assert customer.email.endswith(".invalid")


class _Crash(Exception):
    pass


class _CrashAfterFirstBatch:
    def __init__(self) -> None:
        self.batches: list[tuple[Step, int]] = []

    def started(self, totals: object) -> None:
        pass

    def batch_done(self, step: Step, rows: int) -> None:
        self.batches.append((step, rows))
        if step == Step.CUSTOMERS_ANONYMISED:
            raise _Crash


def test_a_run_killed_after_a_batch_resumes_and_finishes_with_the_right_totals(
    session: Session, seeded: Seeded
) -> None:
    crash = _CrashAfterFirstBatch()
    with pytest.raises(_Crash):
        _enforce(session, batch_size=1, progress=crash)
    assert crash.batches[-1] == (Step.CUSTOMERS_ANONYMISED, 1)
    session.rollback()

    resumed = _enforce(session, batch_size=1)

    assert _only(resumed.counts) == {**EXPECTED, Step.CUSTOMERS_ANONYMISED: 2}
    session.expire_all()
    done = [i for i in seeded.customers.values() if session.get(Customer, i).anonymised_at]
    assert len(done) == 3
    assert _only(_enforce(session, batch_size=1).counts) == dict.fromkeys(EXPECTED, 0)
