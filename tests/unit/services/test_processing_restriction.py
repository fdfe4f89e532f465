"""Restriction and objection set ``processing_restricted`` on the customer's licenses,
lifting clears it; each is recorded on its request and audited; the misuse scan leaves
restricted licenses out."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict
from licensing.models import PrivacyRequestKind, PrivacyRequestStatus
from licensing.services import misuse_scan, processing_restriction
from tests.factories import latest_event, make_license
from tests.unit.services.subject_seeding import NOW, Subject, open_request, seed_subject


@pytest.fixture
def ada(session: Session, sealer: Sealer) -> Subject:
    return seed_subject(session, sealer, name="Ada", ip="198.51.100.7", server_name="mx.ada")


@pytest.mark.parametrize("kind", [PrivacyRequestKind.RESTRICTION, PrivacyRequestKind.OBJECTION])
def test_restricting_marks_every_license_and_lifting_clears_them(
    session: Session, sealer: Sealer, ada: Subject, kind: PrivacyRequestKind
) -> None:
    second = make_license(session, sealer, customer=ada.customer).license
    other = seed_subject(session, sealer, name="Bob", ip="203.0.113.9", server_name="mx.bob")
    request = open_request(session, kind, ada.customer)

    done = processing_restriction.restrict(session, request.id, actor="test:pytest", now=NOW)

    assert done.licenses == 2
    assert ada.license.processing_restricted and second.processing_restricted
    assert not other.license.processing_restricted
    assert request.status == PrivacyRequestStatus.COMPLETED
    assert request.outcome == "processing restricted on 2 licenses"
    assert processing_restriction.is_restricted(session, ada.customer.id)

    lift = open_request(session, PrivacyRequestKind.LIFT_RESTRICTION, ada.customer)
    processing_restriction.lift(session, lift.id, actor="test:pytest", now=NOW)
    assert not ada.license.processing_restricted and not second.processing_restricted
    assert lift.status == PrivacyRequestStatus.COMPLETED
    assert not processing_restriction.is_restricted(session, ada.customer.id)


def test_each_change_is_audited_with_counts(session: Session, ada: Subject) -> None:
    request = open_request(session, PrivacyRequestKind.RESTRICTION, ada.customer)
    processing_restriction.restrict(session, request.id, actor="test:pytest", now=NOW)
    events = [
        e.action
        for e in session.query(type(latest_event(session))).order_by("seq").all()
        if e.subject_id == str(request.id)
    ]
    assert events[-2:] == [processing_restriction.RESTRICTED_ACTION, "privacy.request_completed"]


def test_the_kind_must_match(session: Session, ada: Subject) -> None:
    lift = open_request(session, PrivacyRequestKind.LIFT_RESTRICTION, ada.customer)
    restrict = open_request(session, PrivacyRequestKind.RESTRICTION, ada.customer)
    with pytest.raises(Conflict):
        processing_restriction.restrict(session, lift.id, actor="t:t", now=NOW)
    with pytest.raises(Conflict):
        processing_restriction.lift(session, restrict.id, actor="t:t", now=NOW)
    assert not ada.license.processing_restricted


def test_the_misuse_scan_leaves_restricted_licenses_out(
    session: Session, sealer: Sealer, ada: Subject
) -> None:
    other = seed_subject(session, sealer, name="Bob", ip="203.0.113.9", server_name="mx.bob")
    ada.license.processing_restricted = True
    session.flush()
    plan = {"now": NOW, "full_scan_every": timedelta(days=1), "lookback": timedelta(days=30)}

    full = misuse_scan.plan(session, full=True, **plan)
    assert other.license.id in full.license_ids
    assert ada.license.id not in full.license_ids
    misuse_scan.finish(session, full)
    # An incremental scan: both licenses have news (a seat taken since).
    for subject in (ada, other):
        subject.activation.activated_at = NOW + timedelta(minutes=30)
    session.flush()
    news = misuse_scan.plan(session, full=False, **{**plan, "now": NOW + timedelta(hours=1)})
    assert not news.full
    assert other.license.id in news.license_ids
    assert ada.license.id not in news.license_ids


def test_a_license_issued_while_the_customer_is_restricted_is_restricted(
    session: Session, sealer: Sealer, ada: Subject
) -> None:
    request = open_request(session, PrivacyRequestKind.OBJECTION, ada.customer)
    processing_restriction.restrict(session, request.id, actor="test:pytest", now=NOW)

    later = make_license(session, sealer, customer=ada.customer).license
    unrelated = make_license(session, sealer).license

    assert later.processing_restricted
    assert not unrelated.processing_restricted
