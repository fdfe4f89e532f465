"""Data-subject requests: due in a month, verified, served by id, closed once, audited."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy.orm import Session

from licensing.errors import Conflict, InvalidRequest, NotFound
from licensing.models import PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus
from licensing.services import privacy_requests
from tests.factories import latest_event, make_customer

NOW = datetime(2026, 12, 1, 12, tzinfo=UTC)
VERIFIED = "reply from the licensed e-mail address"


def _record(session: Session, actor: str, **changes: object) -> PrivacyRequest:
    values: dict[str, object] = {
        "kind": PrivacyRequestKind.ACCESS,
        "customer_id": make_customer(session).id,
        "received_at": datetime(2026, 1, 31, tzinfo=UTC),
        "identity_verification": VERIFIED,
        "actor": actor,
        "now": NOW,
    }
    values.update(changes)
    return privacy_requests.record(session, **values)  # type: ignore[arg-type]


def test_a_request_is_due_one_month_after_receipt_and_audited(session: Session, actor: str) -> None:
    request = _record(session, actor)

    assert request.due_at == datetime(2026, 2, 28, tzinfo=UTC)
    assert request.status == PrivacyRequestStatus.OPEN
    event = latest_event(session)
    assert event.action == "privacy.request_recorded"
    assert VERIFIED not in str(event.data)


@pytest.mark.parametrize("verification", ["", "    ", "ok", "x" * 501])
def test_how_the_requester_was_verified_is_required(
    session: Session, actor: str, verification: str
) -> None:
    with pytest.raises(InvalidRequest):
        _record(session, actor, identity_verification=verification)


def test_a_request_cannot_come_from_the_future_or_name_nobody_real(
    session: Session, actor: str
) -> None:
    with pytest.raises(InvalidRequest):
        _record(session, actor, received_at=datetime(2027, 1, 1, tzinfo=UTC))
    with pytest.raises(NotFound):
        _record(session, actor, customer_id=uuid.uuid4())


def test_serving_needs_the_right_kind_and_closes_once(session: Session, actor: str) -> None:
    request = _record(session, actor, kind=PrivacyRequestKind.ERASURE)

    with pytest.raises(Conflict, match="erasure, not access"):
        privacy_requests.open_request(session, request.id, {PrivacyRequestKind.ACCESS})
    served = privacy_requests.open_request(session, request.id, {PrivacyRequestKind.ERASURE})
    privacy_requests.complete(session, served, outcome="3 tables", actor=actor, now=NOW)

    assert latest_event(session).action == "privacy.request_completed"
    with pytest.raises(Conflict, match="already completed"):
        privacy_requests.open_request(session, request.id, {PrivacyRequestKind.ERASURE})
    with pytest.raises(Conflict):
        privacy_requests.refuse(
            session, served, reason="manifestly unfounded", actor=actor, now=NOW
        )


def test_a_request_without_its_subject_is_not_served_until_one_is_found(
    session: Session, actor: str
) -> None:
    request = _record(session, actor, customer_id=None)
    with pytest.raises(Conflict, match="names no customer"):
        privacy_requests.open_request(session, request.id, {PrivacyRequestKind.ACCESS})

    customer = make_customer(session)
    privacy_requests.assign_customer(session, request, customer.id, actor=actor, now=NOW)

    assert privacy_requests.open_request(session, request.id, {PrivacyRequestKind.ACCESS})


def test_overdue_lists_open_requests_past_their_date(session: Session, actor: str) -> None:
    late = _record(session, actor, received_at=datetime(2026, 10, 1, tzinfo=UTC))
    _record(session, actor, received_at=datetime(2026, 11, 20, tzinfo=UTC))

    assert [r.id for r in privacy_requests.overdue(session, now=NOW)] == [late.id]
