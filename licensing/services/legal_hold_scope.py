"""What the legal holds in force keep: the one query retention, erasure and export share.

A hold on a customer keeps every license of that customer and the customer record; a
hold on a license keeps that license's data (its usage, activations, cases and
disclosures). A hold is in force until it is released, whatever its review date says:
a review due is a reminder to staff, never a release.
"""

from __future__ import annotations

import uuid
from typing import Any

from sqlalchemy import Select, or_, select
from sqlalchemy.orm import Session

from licensing.models import LegalHold, License


def in_force() -> Select[Any]:
    return select(LegalHold).where(LegalHold.released_at.is_(None))


def held_license_ids() -> Select[Any]:
    """The ids of every license a hold in force keeps (for ``IN`` / ``NOT IN``)."""
    return select(License.id).where(
        or_(
            License.id.in_(
                select(LegalHold.license_id).where(
                    LegalHold.released_at.is_(None), LegalHold.license_id.is_not(None)
                )
            ),
            License.customer_id.in_(held_customer_ids()),
        )
    )


def held_customer_ids() -> Select[Any]:
    """The ids of every customer a customer-wide hold in force keeps."""
    return select(LegalHold.customer_id).where(
        LegalHold.released_at.is_(None), LegalHold.customer_id.is_not(None)
    )


def holds_on_customer(session: Session, customer_id: uuid.UUID) -> list[LegalHold]:
    """The holds in force on the customer or on any of its licenses, oldest first."""
    licenses = select(License.id).where(License.customer_id == customer_id)
    return list(
        session.scalars(
            in_force()
            .where(or_(LegalHold.customer_id == customer_id, LegalHold.license_id.in_(licenses)))
            .order_by(LegalHold.placed_at, LegalHold.id)
        )
    )
