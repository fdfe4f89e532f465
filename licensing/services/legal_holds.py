"""Legal holds: place one on a license or a customer, release it, list them, and the
reviews that are due.

A hold keeps data past its retention and through an erasure for a legal matter (what it
keeps is ``legal_hold_scope``'s answer). The matter and the reason may name people or
firms, so the audit events carry ids, the scope and the review date only. A review date
is a reminder to look at the hold again, never a release: only a person releases a hold,
and under four eyes only with a second admin's approval (``services/approvals.py``).
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from datetime import date, datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.errors import InvalidRequest, InvalidTransition, NotFound
from licensing.models import Customer, HoldScope, LegalHold, License
from licensing.services import audit
from licensing.services.legal_hold_scope import in_force
from licensing.timeutil import add_months

MATTER_MIN, MATTER_MAX = 3, 200
REASON_MIN, REASON_MAX = 10, 1000
# A hold is reviewed at least this often: a review date further out is a hold forgotten.
LONGEST_REVIEW_MONTHS = 60

PLACED_ACTION = "legal_hold.placed"
RELEASED_ACTION = "legal_hold.released"
SUBJECT_TYPE = "legal_hold"


def place(
    session: Session,
    *,
    scope: HoldScope,
    license: License | None = None,
    customer: Customer | None = None,
    matter: str,
    reason: str,
    review_on: date,
    actor: str,
    now: datetime,
    case_id: uuid.UUID | None = None,
) -> LegalHold:
    """Place a hold on ``license`` (scope license) or ``customer`` (scope customer)."""
    try:
        scope = HoldScope(scope)
    except ValueError:
        raise InvalidRequest(f"the scope must be one of {', '.join(HoldScope)}") from None
    license_id, customer_id = _subject(session, scope, license, customer)
    hold = LegalHold(
        scope=scope.value,
        license_id=license_id,
        customer_id=customer_id,
        matter=_text(matter, "matter", MATTER_MIN, MATTER_MAX),
        reason=reason_text(reason),
        review_on=check_review_date(review_on, now),
        placed_by=actor,
        placed_at=now,
        case_id=case_id,
    )
    session.add(hold)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=PLACED_ACTION,
        subject_type=SUBJECT_TYPE,
        subject_id=hold.id,
        data={**_ids(hold), "review_on": hold.review_on.isoformat()},
        now=now,
    )
    return hold


def release(
    session: Session,
    hold: LegalHold,
    *,
    reason: str,
    actor: str,
    now: datetime,
    four_eyes: bool,
    requested_by: str | None = None,
    request_id: str | None = None,
) -> LegalHold:
    """Release ``hold``; under four eyes ``actor`` approved what ``requested_by`` asked for.

    The caller loads the hold with ``find(..., for_update=True)``: two releases at once
    must not both find it in force.
    """
    check_releasable(hold)
    # Whatever the face (console, CLI, a script), nobody releases alone under four eyes.
    if four_eyes and not (requested_by and request_id):
        raise InvalidTransition(
            "four eyes are on: releasing a legal hold needs a second admin's approval of a request"
        )
    hold.release_reason = reason_text(reason)
    hold.released_at = now
    hold.released_by = actor
    session.flush()
    approval = {"requested_by": requested_by, "request_id": request_id} if requested_by else {}
    audit.record(
        session,
        actor=actor,
        action=RELEASED_ACTION,
        subject_type=SUBJECT_TYPE,
        subject_id=hold.id,
        data={**_ids(hold), **approval},
        now=now,
    )
    return hold


def check_releasable(hold: LegalHold) -> None:
    """Raise unless ``hold`` is in force (before asking anyone to approve its release)."""
    if hold.released_at is not None:
        raise InvalidTransition("this legal hold was already released")


def find(session: Session, hold_id: uuid.UUID | str, *, for_update: bool = False) -> LegalHold:
    try:
        wanted = hold_id if isinstance(hold_id, uuid.UUID) else uuid.UUID(hold_id.strip())
    except ValueError:
        raise NotFound("no legal hold has that id") from None
    hold = session.get(LegalHold, wanted, with_for_update=for_update, populate_existing=for_update)
    if hold is None:
        raise NotFound("no legal hold has that id")
    return hold


def list_holds(session: Session, *, include_released: bool = False) -> Sequence[LegalHold]:
    """The holds in force, the next review first; with ``include_released``, every hold,
    the newest first."""
    if include_released:
        query = select(LegalHold).order_by(LegalHold.placed_at.desc(), LegalHold.id)
        return session.scalars(query).all()
    return session.scalars(in_force().order_by(LegalHold.review_on, LegalHold.id)).all()


def list_released(session: Session) -> Sequence[LegalHold]:
    """The released holds, the most recently released first."""
    query = select(LegalHold).where(LegalHold.released_at.is_not(None))
    return session.scalars(query.order_by(LegalHold.released_at.desc(), LegalHold.id)).all()


def reviews_due(session: Session, today: date) -> Sequence[LegalHold]:
    """The holds in force whose review date has come, the longest overdue first."""
    query = in_force().where(LegalHold.review_on <= today)
    return session.scalars(query.order_by(LegalHold.review_on, LegalHold.id)).all()


def is_review_due(hold: LegalHold, today: date) -> bool:
    """The rule ``reviews_due`` queries, for one hold already loaded."""
    return hold.released_at is None and hold.review_on <= today


def for_case(session: Session, case_id: uuid.UUID) -> LegalHold | None:
    """The hold a confirmed misuse case placed on its evidence, in force or released."""
    query = select(LegalHold).where(LegalHold.case_id == case_id)
    return session.scalars(query.order_by(LegalHold.placed_at, LegalHold.id).limit(1)).first()


def by_ids(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, LegalHold]:
    if not ids:
        return {}
    return {h.id: h for h in session.scalars(select(LegalHold).where(LegalHold.id.in_(ids)))}


def holds_on_license(session: Session, license: License) -> Sequence[LegalHold]:
    """The holds in force that keep ``license``: on it, or on its customer."""
    query = in_force().where(
        (LegalHold.license_id == license.id) | (LegalHold.customer_id == license.customer_id)
    )
    return session.scalars(query.order_by(LegalHold.placed_at, LegalHold.id)).all()


def holds_keeping(session: Session, license_id: uuid.UUID) -> Sequence[LegalHold]:
    """The holds in force that keep the license ``license_id`` (on it or its customer)."""
    customer = select(License.customer_id).where(License.id == license_id).scalar_subquery()
    query = in_force().where(
        (LegalHold.license_id == license_id) | (LegalHold.customer_id == customer)
    )
    return session.scalars(query.order_by(LegalHold.placed_at, LegalHold.id)).all()


def check_review_date(review_on: date, now: datetime) -> date:
    """A review date is after today and at most five years away."""
    today = now.date()
    if review_on <= today:
        raise InvalidRequest("the review date must be after today")
    if review_on > add_months(now, LONGEST_REVIEW_MONTHS).date():
        raise InvalidRequest(
            f"the review date must be within {LONGEST_REVIEW_MONTHS // 12} years: "
            "review the hold then, and keep it if it is still needed"
        )
    return review_on


def reason_text(reason: str) -> str:
    """The reason for placing or releasing a hold, checked once for every face."""
    return _text(reason, "reason", REASON_MIN, REASON_MAX)


def _text(value: str, what: str, shortest: int, longest: int) -> str:
    text = " ".join(value.split())
    if not shortest <= len(text) <= longest:
        raise InvalidRequest(f"the {what} must be {shortest} to {longest} characters long")
    return text


def _subject(
    session: Session, scope: HoldScope, license: License | None, customer: Customer | None
) -> tuple[uuid.UUID | None, uuid.UUID | None]:
    """The (license id, customer id) the hold names: exactly the one its scope says."""
    if scope is HoldScope.LICENSE:
        if license is None or customer is not None:
            raise InvalidRequest("a hold on a license names the license, and no customer")
        if session.get(License, license.id) is None:
            raise NotFound("no such license")
        return license.id, None
    if customer is None or license is not None:
        raise InvalidRequest("a hold on a customer names the customer, and no license")
    if session.get(Customer, customer.id) is None:
        raise NotFound("no such customer")
    return None, customer.id


def _ids(hold: LegalHold) -> dict[str, str | None]:
    """What the audit log keeps of a hold: its scope and ids, never its matter or reason."""
    return {
        "scope": hold.scope,
        "license_id": str(hold.license_id) if hold.license_id else None,
        "customer_id": str(hold.customer_id) if hold.customer_id else None,
        "case_id": str(hold.case_id) if hold.case_id else None,
    }
