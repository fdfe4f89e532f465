"""Rectification (GDPR Art. 16): correct a customer's record and an activation's server
name, and name the partners to notify of it (Art. 19).

The customer's fields go through ``customers.update_customer`` (its rules on names and
unique addresses); a server name is the one an instance reported, corrected on the
activation that holds it. An anonymised customer is refused: there is nothing left to
correct, and a name written back would stay for good. Audited by field names and counts,
never values.
"""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.errors import InvalidRequest, NotFound
from licensing.models import Activation, Customer, License, PrivacyRequestKind
from licensing.services import audit, customers, privacy_requests
from licensing.services.check_ins import server_name_as_stored
from licensing.services.disclosure_recipients import Recipient, recipients

RECTIFIED_ACTION = "privacy.rectified"
SERVER_NAME_MAX = 253  # activations.server_name


@dataclass(frozen=True, slots=True)
class Rectified:
    request_id: uuid.UUID
    customer_fields: tuple[str, ...]  # the customer's fields that changed
    server_names: int  # activations whose server name changed
    notify: tuple[Recipient, ...]  # partners that received data about the licenses


def rectify(
    session: Session,
    request_id: uuid.UUID,
    *,
    name: str | None = None,
    email: str | None = None,
    company: str | None = None,
    server_names: Mapping[uuid.UUID, str] | None = None,
    actor: str,
    now: datetime,
) -> Rectified:
    """Correct what is given on the open rectification request's customer; completes it."""
    server_names = dict(server_names or {})
    if name is None and email is None and company is None and not server_names:
        raise InvalidRequest("say what to correct: a name, e-mail, company or server name")
    request = privacy_requests.open_request(session, request_id, {PrivacyRequestKind.RECTIFICATION})
    customer = session.get(Customer, request.customer_id)
    if customer is None:
        raise NotFound("no such customer")
    # Before any change, server names included: the activations of an anonymised
    # customer's licenses are gone or held, and its record is not to be refilled.
    customers.refuse_if_anonymised(customer)
    before = {f: getattr(customer, f) for f in ("name", "email", "company")}
    customers.update_customer(
        session, customer, actor=actor, name=name, email=email, company=company
    )
    fields = tuple(f for f, value in before.items() if getattr(customer, f) != value)
    renamed = _server_names(session, customer.id, server_names)
    notify = tuple(recipients(session, customer.id))
    audit.record(
        session,
        actor=actor,
        action=RECTIFIED_ACTION,
        subject_type="privacy_request",
        subject_id=request.id,
        data={
            "customer_id": str(customer.id),
            "fields": list(fields),
            "server_names": renamed,
            "partners_to_notify": len(notify),
        },
        now=now,
    )
    outcome = (
        f"rectified fields: {', '.join(fields) or 'none'}; server names: {renamed}; "
        f"partners to notify: {len(notify)}"
    )
    privacy_requests.complete(session, request, outcome=outcome, actor=actor, now=now)
    return Rectified(request.id, fields, renamed, notify)


def _server_names(session: Session, customer_id: uuid.UUID, names: Mapping[uuid.UUID, str]) -> int:
    """Set each activation's server name; every activation must be the customer's."""
    if not names:
        return 0
    found = {
        a.id: a
        for a in session.scalars(
            select(Activation)
            .join(License, License.id == Activation.license_id)
            .where(Activation.id.in_(names), License.customer_id == customer_id)
        )
    }
    strange = sorted(str(i) for i in names if i not in found)
    if strange:
        raise NotFound(f"no activation of this customer's licenses: {', '.join(strange)}")
    changed = 0
    for activation_id, raw in names.items():
        value = server_name_as_stored(raw.strip())  # as a check-in would store it
        if not value or len(value) > SERVER_NAME_MAX:
            raise InvalidRequest(f"a server name has 1 to {SERVER_NAME_MAX} characters")
        activation = found[activation_id]
        if activation.server_name != value:
            activation.server_name = value
            changed += 1
    session.flush()
    return changed


def partners_to_notify(session: Session, customer_id: uuid.UUID) -> list[Recipient]:
    """The recipients a rectification of the customer's data is to be notified to."""
    return recipients(session, customer_id)
