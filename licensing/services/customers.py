"""Customers: the people and companies licenses are issued to."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.errors import InvalidRequest, NotFound
from licensing.models import Customer
from licensing.services import audit

# Deliberately loose: one @, something on each side, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def add_customer(
    session: Session, *, name: str, email: str, company: str | None, actor: str
) -> Customer:
    if not name.strip():
        raise InvalidRequest("customer name must not be empty", errors={"name": ["empty"]})
    if not _EMAIL.match(email.strip()) or len(email) > 320:
        raise InvalidRequest(f"{email!r} is not an e-mail address", errors={"email": ["invalid"]})
    customer = Customer(
        name=name.strip(), email=email.strip().lower(), company=(company or "").strip() or None
    )
    session.add(customer)
    session.flush()
    # Ids only: the audit log outlives the customer record's retention.
    audit.record(
        session,
        actor=actor,
        action="customer.added",
        subject_type="customer",
        subject_id=customer.id,
    )
    return customer


def get_customer(session: Session, reference: str) -> Customer:
    """A customer by id, or by e-mail when exactly one customer has it."""
    try:
        customer = session.get(Customer, uuid.UUID(reference))
    except ValueError:
        matches = session.scalars(
            select(Customer).where(Customer.email == reference.strip().lower()).limit(2)
        ).all()
        if len(matches) > 1:
            raise InvalidRequest(
                "several customers share that e-mail; use the customer id"
            ) from None
        customer = matches[0] if matches else None
    if customer is None:
        raise NotFound(f"no customer {reference!r}")
    return customer


def list_customers(session: Session) -> Sequence[Customer]:
    return session.scalars(select(Customer).order_by(Customer.created_at, Customer.name)).all()
