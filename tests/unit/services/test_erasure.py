"""Erasure: the dry run's counts are the erasure's, holds keep what they name, nobody
else is touched, and the request and the audit log say what was done."""

from __future__ import annotations

import json
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict
from licensing.models import (
    Activation,
    AuditEvent,
    Customer,
    Disclosure,
    LeasePresentation,
    LegalHold,
    License,
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    PrivacyRequestKind,
    ReplayNonce,
    SignatureFailure,
    UsageObservation,
)
from licensing.services import erasure, licenses, privacy_requests
from tests.erasure_seed import ACTOR, NOW, Seeded, erasure_request, place_hold, seed_customer

ERASURE = {PrivacyRequestKind.ERASURE}


def _rows(session: Session, seeded: Seeded) -> dict[str, int]:
    """Rows that belong to ``seeded`` in every table erasure looks at."""
    ids = [lic.id for lic in seeded.licenses]
    keys = [lic.key_id for lic in seeded.licenses]

    def n(model: Any, where: Any) -> int:
        return int(session.scalar(select(func.count()).select_from(model).where(where)) or 0)

    return {
        "activations": n(Activation, Activation.license_id.in_(ids)),
        "usage_observations": n(UsageObservation, UsageObservation.license_id.in_(ids)),
        "lease_presentations": n(LeasePresentation, LeasePresentation.license_id.in_(ids)),
        "replay_nonces": n(ReplayNonce, ReplayNonce.key_id.in_(keys)),
        "signature_failures": n(SignatureFailure, SignatureFailure.key_id.in_(keys)),
        "misuse_cases": n(MisuseCase, MisuseCase.license_id.in_(ids)),
        "misuse_case_events": n(
            MisuseCaseEvent,
            MisuseCaseEvent.case_id.in_(
                select(MisuseCase.id).where(MisuseCase.license_id.in_(ids))
            ),
        ),
        "misuse_exceptions": n(MisuseException, MisuseException.license_id.in_(ids)),
        "disclosures": n(Disclosure, Disclosure.license_id.in_(ids)),
        "revoked": n(License, License.id.in_(ids) & (License.status == "revoked")),
    }


def _erase(session: Session, seeded: Seeded) -> erasure.ErasureReport:
    request = erasure_request(session, seeded.customer)
    opened = privacy_requests.open_request(session, request.id, ERASURE)
    return erasure.erase(session, opened, actor=ACTOR, now=NOW)


def test_the_dry_run_counts_are_what_the_erasure_changes(session: Session, sealer: Sealer) -> None:
    subject = seed_customer(session, sealer, tag="a")
    planned = erasure.plan(session, subject.customer.id, now=NOW)

    before = _rows(session, subject)
    done = _erase(session, subject).plan
    after = _rows(session, subject)

    assert planned.counts == done.counts
    for table in before:
        if table in done.counts:
            assert done.counts[table] == before[table] - after[table], table
    assert done.counts["licenses"] == 2 and after["revoked"] == 2
    assert done.counts["customers"] == 1
    assert done.counts["usage_observations"] == 4
    assert all(after[t] == 0 for t in after if t not in ("disclosures", "revoked"))
    # Disclosures are kept, and the plan says so with its reason.
    assert after["disclosures"] == before["disclosures"] == 2
    kept = {k.table: k for k in done.kept}
    assert kept["disclosures"].rows == 2 and "Art. 5(2)" in kept["disclosures"].reason


def test_the_customer_is_anonymised_and_the_licenses_revoked_for_the_reason(
    session: Session, sealer: Sealer
) -> None:
    subject = seed_customer(session, sealer, tag="b")
    _erase(session, subject)
    customer = session.get(Customer, subject.customer.id)
    assert customer is not None and customer.anonymised_at is not None
    assert subject.email not in customer.email and customer.name != subject.name
    for license in subject.licenses:
        session.refresh(license)
        assert license.status == "revoked"
        assert license.status_reason == erasure.REVOCATION_REASON


def test_another_customer_is_not_touched(session: Session, sealer: Sealer) -> None:
    subject = seed_customer(session, sealer, tag="c")
    other = seed_customer(session, sealer, tag="d")
    before = _rows(session, other)
    _erase(session, subject)
    assert _rows(session, other) == before
    session.refresh(other.customer)
    assert other.customer.email == other.email and other.customer.anonymised_at is None


def test_the_request_is_completed_with_counts_and_the_audit_event_holds_ids_only(
    session: Session, sealer: Sealer
) -> None:
    subject = seed_customer(session, sealer, tag="e")
    report = _erase(session, subject)
    request = privacy_requests.get(session, report.request_id)  # type: ignore[arg-type]
    assert request.status == "completed"
    assert request.outcome is not None and "usage_observations 4 deleted" in request.outcome
    event = session.scalar(select(AuditEvent).where(AuditEvent.action == erasure.ERASED_ACTION))
    assert event is not None and event.subject_id == str(subject.customer.id)
    assert event.data["counts"]["usage_observations"] == 4
    text = repr(event.data) + (request.outcome or "")
    for value in (subject.email, subject.name, *subject.servers):
        assert value not in text
    # The request is closed: a second erasure of it is refused.
    with pytest.raises(Conflict):
        privacy_requests.open_request(session, request.id, ERASURE)


def test_a_license_hold_keeps_that_license_and_the_customer_record(
    session: Session, sealer: Sealer
) -> None:
    subject = seed_customer(session, sealer, tag="f")
    held, _free = subject.licenses
    hold = place_hold(session, license=held)
    planned = erasure.plan(session, subject.customer.id, now=NOW)
    done = _erase(session, subject).plan

    assert planned.counts == done.counts
    assert done.counts["licenses"] == 1 and done.counts["customers"] == 0
    assert done.counts["usage_observations"] == 2  # the free license's only
    (kept,) = done.holds
    assert (kept.hold_id, kept.matter) == (hold.id, hold.matter)
    assert kept.kept["usage_observations"] == 2 and kept.kept["customers"] == 1
    session.refresh(held)
    assert held.status == "active"
    assert _rows(session, Seeded(subject.customer, [held], "", "", []))["activations"] == 2
    session.refresh(subject.customer)
    assert subject.customer.email == subject.email


def test_a_customer_hold_keeps_everything(session: Session, sealer: Sealer) -> None:
    subject = seed_customer(session, sealer, tag="g")
    place_hold(session, customer=subject.customer)
    before = _rows(session, subject)
    done = _erase(session, subject).plan
    assert done.total == 0
    assert _rows(session, subject) == before


def test_a_released_hold_on_an_erased_case_loses_the_link_but_stays(
    session: Session, sealer: Sealer
) -> None:
    subject = seed_customer(session, sealer, tag="h", licenses=1)
    case = session.scalar(select(MisuseCase).where(MisuseCase.license_id == subject.licenses[0].id))
    hold = place_hold(session, license=subject.licenses[0])
    hold.case_id, hold.released_at = case.id if case else None, NOW
    session.flush()
    done = _erase(session, subject).plan
    assert done.counts["legal_holds"] == 1
    kept = session.get(LegalHold, hold.id)
    assert kept is not None and kept.case_id is None and kept.matter == hold.matter


def test_erasing_again_changes_nothing(session: Session, sealer: Sealer) -> None:
    subject = seed_customer(session, sealer, tag="i")
    _erase(session, subject)
    again = erasure.reapply(session, subject.customer.id, actor=ACTOR, now=NOW)
    assert again.plan.total == 0


def test_an_unwritable_ledger_is_reported_after_the_erasure_stands(
    session: Session, sealer: Sealer, tmp_path: Any
) -> None:
    from licensing.services import erasure_run

    subject = seed_customer(session, sealer, tag="j", licenses=1)
    request = privacy_requests.open_request(
        session, erasure_request(session, subject.customer).id, ERASURE
    )
    blocked = tmp_path / "a-file"
    blocked.write_text("")
    with pytest.raises(erasure_run.LedgerNotWritten, match="is erased"):
        erasure_run.carry_out(
            session,
            request,
            sealer=sealer,
            ledger=blocked / "ledger.jsonl",
            scrub_engine=None,
            actor=ACTOR,
            now=NOW,
        )
    session.expire_all()
    customer = session.get(Customer, subject.customer.id)
    assert customer is not None and customer.anonymised_at is not None


def test_the_report_says_the_audit_log_keeps_staff_reasons_and_counts_them(
    session: Session, sealer: Sealer
) -> None:
    seeded = seed_customer(session, sealer, tag="reason")
    other = seed_customer(session, sealer, tag="other", with_partner=False)
    reason = f"{seeded.name} <{seeded.email}> asked us to pause"
    licenses.suspend(session, seeded.licenses[0], reason=reason, actor="staff:x")
    licenses.suspend(session, other.licenses[0], reason="another matter", actor="staff:x")
    request = erasure_request(session, seeded.customer)
    opened = privacy_requests.open_request(session, request.id, ERASURE)
    # The customer's own subjects, walked here: its record, licenses, cases, exceptions
    # and requests (the erasure deletes the cases and exceptions, so counted before).
    ids = [lic.id for lic in seeded.licenses]
    subjects = {
        str(seeded.customer.id),
        *(str(i) for i in ids),
        *(
            str(i)
            for i in session.scalars(select(MisuseCase.id).where(MisuseCase.license_id.in_(ids)))
        ),
        *(
            str(i)
            for i in session.scalars(
                select(MisuseException.id).where(MisuseException.license_id.in_(ids))
            )
        ),
        str(request.id),
    }
    about = [e for e in session.scalars(select(AuditEvent)) if e.subject_id in subjects]
    assert any(e.action == "license.suspended" for e in about)

    done = erasure.erase(session, opened, actor=ACTOR, now=NOW)

    kept = {k.table: k for k in done.plan.kept}
    assert kept["audit_events"].rows == len(about)
    text = kept["audit_events"].reason
    assert text == (
        "kept for security (Art. 32) and legal claims (Art. 17(3)(e)): hash-chained, they "
        "cannot be changed without breaking the chain; they hold ids and the reasons staff "
        "typed, which may name a person; deleted with the chain's prefix after "
        "LICENSING_RETENTION_AUDIT_DAYS, unless a legal hold on an earlier event stops "
        "the pruned prefix there"
    )
    assert "which may name a person" in kept["approval_requests"].reason
    assert "ids only" not in json.dumps(done.to_json())
    # The reason is still in the chain, as the report now says; the license's copy is gone.
    session.refresh(seeded.licenses[0])
    assert seeded.licenses[0].status_reason != reason
    assert any(seeded.email in str(e.data) for e in session.scalars(select(AuditEvent)))
