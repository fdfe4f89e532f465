"""The partners told about a customer's licenses: whom to notify of a rectification or an
erasure (GDPR Art. 19), and the recipients an access request is told of (Art. 15(1)(c))."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.models import Disclosure, License, Partner


@dataclass(frozen=True, slots=True)
class Recipient:
    partner_id: uuid.UUID
    partner: str
    kind: str
    fields: tuple[str, ...]  # every field of the customer's licenses it was ever told
    disclosures: int
    last_disclosed_at: datetime


def recipients(session: Session, customer_id: uuid.UUID) -> list[Recipient]:
    """Each partner that received data about the customer's licenses, most recent first."""
    rows = session.execute(
        select(Partner.id, Partner.name, Partner.kind, Disclosure.fields, Disclosure.disclosed_at)
        .join(Disclosure, Disclosure.partner_id == Partner.id)
        .join(License, License.id == Disclosure.license_id)
        .where(License.customer_id == customer_id)
    )
    found: dict[uuid.UUID, tuple[str, str, set[str], int, datetime]] = {}
    for partner_id, name, kind, fields, at in rows:
        _, _, seen, count, last = found.get(partner_id, (name, kind, set(), 0, at))
        seen.update(fields or ())
        found[partner_id] = (name, kind, seen, count + 1, max(last, at))
    return sorted(
        (
            Recipient(pid, name, kind, tuple(sorted(seen)), count, last)
            for pid, (name, kind, seen, count, last) in found.items()
        ),
        key=lambda r: (r.last_disclosed_at, r.partner),
        reverse=True,
    )
