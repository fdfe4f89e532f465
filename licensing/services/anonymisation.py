"""Anonymising a customer record: the one way retention and erasure both do it.

The row stays, because licenses, disclosures and the audit log refer to it by id and the
contract's legal obligations outlive the person's data; every column the register
classifies as the customer's personal data is replaced. The placeholder address keeps
the one-customer-per-address rule and can never be delivered to (``.invalid``, RFC 2606).
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import update
from sqlalchemy.orm import Session

from licensing.models import Customer, License

ANONYMISED_NAME = "anonymised customer"


def placeholder_email(customer: Customer) -> str:
    return f"anonymised-{customer.id.hex}@anonymised.invalid"


def anonymise_customer(session: Session, customer: Customer, *, now: datetime) -> None:
    """Replace the customer's name, e-mail and company, and the free text on its licenses."""
    customer.name = ANONYMISED_NAME
    customer.email = placeholder_email(customer)
    customer.company = None
    customer.anonymised_at = now
    # Reasons typed by staff on a license may name the customer.
    session.execute(
        update(License).where(License.customer_id == customer.id).values(status_reason=None)
    )
    session.flush()


def is_anonymised(customer: Customer) -> bool:
    return customer.anonymised_at is not None
