"""Customers: the people and companies licenses are issued to."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.errors import Conflict, InvalidRequest, NotFound
from licensing.models import Customer, License
from licensing.services import audit

# Deliberately loose: one @, something on each side, a dot in the domain.
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def add_customer(
    session: Session, *, name: str, email: str, company: str | None, actor: str
) -> Customer:
    address = _address(session, email, customer=None)
    customer = Customer(name=_name(name), email=address, company=(company or "").strip() or None)
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


def update_customer(
    session: Session,
    customer: Customer,
    *,
    actor: str,
    name: str | None = None,
    email: str | None = None,
    company: str | None = None,
) -> Customer:
    """Change the given fields (an empty ``company`` clears it); audited by field name."""
    refuse_if_anonymised(customer)
    changes: dict[str, str | None] = {}
    if name is not None:
        changes["name"] = _name(name)
    if email is not None:
        changes["email"] = _address(session, email, customer=customer)
    if company is not None:
        changes["company"] = company.strip() or None
    changed = sorted(field for field, value in changes.items() if getattr(customer, field) != value)
    if not changed:
        return customer
    for field in changed:
        setattr(customer, field, changes[field])
    session.flush()
    # Which fields changed, never their values: the audit log holds no personal data.
    audit.record(
        session,
        actor=actor,
        action="customer.updated",
        subject_type="customer",
        subject_id=customer.id,
        data={"fields": changed},
    )
    return customer


def refuse_if_anonymised(customer: Customer) -> None:
    """Raise if the customer's data was anonymised (by retention or erasure).

    Writing a name or address back would put personal data on a record that retention
    and the erasure ledger treat as done with, so it would stay for good."""
    if customer.anonymised_at is not None:
        on = customer.anonymised_at.date().isoformat()
        raise Conflict(f"the customer's data was anonymised on {on}: there is nothing to rectify")


def customer_licenses(session: Session, customer: Customer) -> Sequence[License]:
    return session.scalars(
        select(License).where(License.customer_id == customer.id).order_by(License.issued_at)
    ).all()


def _name(name: str) -> str:
    if not name.strip():
        raise InvalidRequest("customer name must not be empty", errors={"name": ["empty"]})
    return name.strip()


def _address(session: Session, email: str, *, customer: Customer | None) -> str:
    """``email`` normalised, if it is an address no other customer has (in any case)."""
    address = email.strip().lower()
    if not _EMAIL.match(address) or len(address) > 320:
        raise InvalidRequest(f"{email!r} is not an e-mail address", errors={"email": ["invalid"]})
    holder = session.scalar(select(Customer.id).where(func.lower(Customer.email) == address))
    if holder is not None and (customer is None or holder != customer.id):
        raise Conflict(
            f"customer {holder} already has that e-mail address", errors={"email": ["taken"]}
        )
    return address


def get_customer(session: Session, reference: str) -> Customer:
    """A customer by id, or by e-mail (one customer per address, whatever its case)."""
    try:
        customer = session.get(Customer, uuid.UUID(reference))
    except ValueError:
        customer = session.scalar(
            select(Customer).where(func.lower(Customer.email) == reference.strip().lower())
        )
    if customer is None:
        raise NotFound(f"no customer {reference!r}")
    return customer


def list_customers(session: Session) -> Sequence[Customer]:
    return session.scalars(select(Customer).order_by(Customer.created_at, Customer.name)).all()


def names_of(session: Session, ids: set[uuid.UUID]) -> dict[uuid.UUID, str]:
    """Customers' names by id, in one query (a list of search hits names each customer)."""
    if not ids:
        return {}
    rows = session.execute(select(Customer.id, Customer.name).where(Customer.id.in_(ids)))
    return {customer_id: name for customer_id, name in rows}
