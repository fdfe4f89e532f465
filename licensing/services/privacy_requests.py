"""Data-subject requests: each right exercised is recorded, due in one month, and closed
with its outcome (GDPR Art. 12(3)).

Every command and console page that serves a right takes the id of a request recorded
here, so nothing is done to a person's data without the record of who asked, how their
identity was checked and when the answer is due. The outcome holds counts and table
names, never the personal data itself; the audit events hold the same.
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.errors import Conflict, InvalidRequest, NotFound
from licensing.models import Customer, PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus
from licensing.services import audit
from licensing.timeutil import add_months

# Art. 12(3): "without undue delay and in any event within one month of receipt".
ANSWER_WITHIN_MONTHS = 1
VERIFICATION_MIN, VERIFICATION_MAX = 5, 500
OUTCOME_MAX = 2000

RECORDED_ACTION = "privacy.request_recorded"
COMPLETED_ACTION = "privacy.request_completed"
REFUSED_ACTION = "privacy.request_refused"


def due_at(received_at: datetime) -> datetime:
    return add_months(received_at, ANSWER_WITHIN_MONTHS)


def record(
    session: Session,
    *,
    kind: PrivacyRequestKind,
    customer_id: uuid.UUID | None,
    received_at: datetime,
    identity_verification: str,
    actor: str,
    now: datetime,
) -> PrivacyRequest:
    """Record a request as received; it is due one month after ``received_at``."""
    verification = " ".join(identity_verification.split())
    if not VERIFICATION_MIN <= len(verification) <= VERIFICATION_MAX:
        raise InvalidRequest(
            f"say how the requester's identity was verified "
            f"({VERIFICATION_MIN}-{VERIFICATION_MAX} characters)"
        )
    if received_at > now:
        raise InvalidRequest("a request cannot be received in the future")
    if customer_id is not None and session.get(Customer, customer_id) is None:
        raise NotFound("no such customer")
    request = PrivacyRequest(
        kind=kind.value,
        customer_id=customer_id,
        received_at=received_at,
        due_at=due_at(received_at),
        identity_verification=verification,
        status=PrivacyRequestStatus.OPEN.value,
        recorded_by=actor,
        recorded_at=now,
    )
    session.add(request)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=RECORDED_ACTION,
        subject_type="privacy_request",
        subject_id=request.id,
        data={"kind": kind.value, "customer_id": _id(customer_id), "due_at": _iso(request.due_at)},
        now=now,
    )
    return request


def open_request(
    session: Session, request_id: uuid.UUID, kinds: Collection[PrivacyRequestKind]
) -> PrivacyRequest:
    """The open request ``request_id`` of one of ``kinds``, locked for the one who serves it."""
    request = session.scalar(
        select(PrivacyRequest).where(PrivacyRequest.id == request_id).with_for_update()
    )
    if request is None:
        raise NotFound("no such privacy request")
    if request.status != PrivacyRequestStatus.OPEN:
        raise Conflict(f"the privacy request is already {request.status}")
    if request.kind not in {k.value for k in kinds}:
        wanted = " or ".join(sorted(k.value for k in kinds))
        raise Conflict(f"the privacy request is for {request.kind}, not {wanted}")
    if request.customer_id is None:
        raise Conflict("the privacy request names no customer: find the data subject first")
    return request


def assign_customer(
    session: Session, request: PrivacyRequest, customer_id: uuid.UUID, *, actor: str, now: datetime
) -> None:
    """Name the data subject of an open request once a search has found them."""
    if request.status != PrivacyRequestStatus.OPEN:
        raise Conflict(f"the privacy request is already {request.status}")
    if session.get(Customer, customer_id) is None:
        raise NotFound("no such customer")
    request.customer_id = customer_id
    audit.record(
        session,
        actor=actor,
        action="privacy.request_subject_found",
        subject_type="privacy_request",
        subject_id=request.id,
        data={"customer_id": str(customer_id)},
        now=now,
    )


def complete(
    session: Session, request: PrivacyRequest, *, outcome: str, actor: str, now: datetime
) -> None:
    """Close ``request`` as answered; ``outcome`` says what was done (counts, not values)."""
    _close(session, request, PrivacyRequestStatus.COMPLETED, outcome, actor=actor, now=now)


def refuse(
    session: Session, request: PrivacyRequest, *, reason: str, actor: str, now: datetime
) -> None:
    """Close ``request`` unanswered, with the reason the requester is told."""
    if len(" ".join(reason.split())) < VERIFICATION_MIN:
        raise InvalidRequest("give the reason the request is refused")
    _close(session, request, PrivacyRequestStatus.REFUSED, reason, actor=actor, now=now)


def get(session: Session, request_id: uuid.UUID) -> PrivacyRequest:
    request = session.get(PrivacyRequest, request_id)
    if request is None:
        raise NotFound("no such privacy request")
    return request


def list_requests(
    session: Session,
    *,
    status: PrivacyRequestStatus | None = None,
    customer_id: uuid.UUID | None = None,
    limit: int = 100,
) -> Sequence[PrivacyRequest]:
    """Requests, those due soonest first."""
    query = select(PrivacyRequest).order_by(PrivacyRequest.due_at, PrivacyRequest.id).limit(limit)
    if status is not None:
        query = query.where(PrivacyRequest.status == status.value)
    if customer_id is not None:
        query = query.where(PrivacyRequest.customer_id == customer_id)
    return session.scalars(query).all()


def overdue(session: Session, *, now: datetime) -> Sequence[PrivacyRequest]:
    """Open requests past their due date."""
    return session.scalars(
        select(PrivacyRequest)
        .where(
            PrivacyRequest.status == PrivacyRequestStatus.OPEN.value,
            PrivacyRequest.due_at < now,
        )
        .order_by(PrivacyRequest.due_at)
    ).all()


def _close(
    session: Session,
    request: PrivacyRequest,
    status: PrivacyRequestStatus,
    outcome: str,
    *,
    actor: str,
    now: datetime,
) -> None:
    if request.status != PrivacyRequestStatus.OPEN:
        raise Conflict(f"the privacy request is already {request.status}")
    outcome = outcome.strip()
    if len(outcome) > OUTCOME_MAX:
        raise InvalidRequest(f"the outcome is longer than {OUTCOME_MAX} characters")
    request.status = status.value
    request.outcome = outcome
    request.closed_by = actor
    request.closed_at = now
    audit.record(
        session,
        actor=actor,
        action=COMPLETED_ACTION if status is PrivacyRequestStatus.COMPLETED else REFUSED_ACTION,
        subject_type="privacy_request",
        subject_id=request.id,
        data={"kind": request.kind, "customer_id": _id(request.customer_id)},
        now=now,
    )


def _id(value: uuid.UUID | None) -> str | None:
    return None if value is None else str(value)


def _iso(value: datetime) -> str:
    return value.isoformat()
