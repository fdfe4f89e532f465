"""Restriction and objection (GDPR Art. 18 and 21): ``licenses.processing_restricted``.

While a customer's licenses are restricted their instances are verified as usual, but a
check-in stores no IP address, no server name and no hash or network of either
(services/check_ins.py, services/instance_calls.py), and the misuse scan, processing on
legitimate interests, leaves them out (services/misuse_scan.py). An objection is served
the same way: the only legitimate-interests processing of usage is that scan and the
usage it would read. What was stored before stays (restriction limits processing; it is
not erasure). Lifting is a request of its own, recorded and audited the same way.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import License, PrivacyRequestKind
from licensing.services import audit, privacy_requests

RESTRICTED_ACTION = "privacy.processing_restricted"
LIFTED_ACTION = "privacy.restriction_lifted"
RESTRICTING = frozenset({PrivacyRequestKind.RESTRICTION, PrivacyRequestKind.OBJECTION})


@dataclass(frozen=True, slots=True)
class RestrictionChange:
    request_id: uuid.UUID
    customer_id: uuid.UUID
    restricted: bool
    licenses: int  # the customer's licenses now in that state


def restrict(
    session: Session, request_id: uuid.UUID, *, actor: str, now: datetime
) -> RestrictionChange:
    """Restrict processing on every license of the open restriction or objection request's
    customer; completes the request."""
    return _set(session, request_id, RESTRICTING, restricted=True, actor=actor, now=now)


def lift(
    session: Session, request_id: uuid.UUID, *, actor: str, now: datetime
) -> RestrictionChange:
    """Lift the restriction on the open lift request's customer; completes the request."""
    kinds = {PrivacyRequestKind.LIFT_RESTRICTION}
    return _set(session, request_id, kinds, restricted=False, actor=actor, now=now)


def _set(
    session: Session,
    request_id: uuid.UUID,
    kinds: frozenset[PrivacyRequestKind] | set[PrivacyRequestKind],
    *,
    restricted: bool,
    actor: str,
    now: datetime,
) -> RestrictionChange:
    request = privacy_requests.open_request(session, request_id, kinds)
    customer_id = request.customer_id
    assert customer_id is not None  # open_request refuses a request without a subject
    # Row by row, not one UPDATE: the console forgets the cached state of the licenses a
    # request changed (console/blueprint.py), and it sees only objects it flushed.
    licenses = list(session.scalars(select(License).where(License.customer_id == customer_id)))
    for license in licenses:
        license.processing_restricted = restricted
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=RESTRICTED_ACTION if restricted else LIFTED_ACTION,
        subject_type="privacy_request",
        subject_id=request.id,
        data={"customer_id": str(customer_id), "kind": request.kind, "licenses": len(licenses)},
        now=now,
    )
    verb = "restricted" if restricted else "restriction lifted"
    privacy_requests.complete(
        session,
        request,
        outcome=f"processing {verb} on {len(licenses)} licenses",
        actor=actor,
        now=now,
    )
    return RestrictionChange(request.id, customer_id, restricted, len(licenses))


def is_restricted(session: Session, customer_id: uuid.UUID) -> bool:
    """Whether any of the customer's licenses is restricted."""
    return bool(
        session.scalar(
            select(License.id)
            .where(License.customer_id == customer_id, License.processing_restricted.is_(True))
            .limit(1)
        )
    )
