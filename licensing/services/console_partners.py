"""What the console's partner list reads: each partner's live keys and recent disclosures.

Read only; every change to a partner goes through ``services/partners.py``, which audits it.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session, selectinload

from licensing.models import Disclosure, Partner, PartnerKey, PartnerProduct


@dataclass(frozen=True, slots=True)
class PartnerSummary:
    partner: Partner
    products: list[str]
    live_keys: int
    recent_disclosures: int


def summaries(session: Session, *, now: datetime, days: int = 30) -> list[PartnerSummary]:
    """Every partner by name, with three queries whatever their number."""
    found = session.scalars(
        select(Partner)
        .options(selectinload(Partner.products).selectinload(PartnerProduct.product))
        .order_by(Partner.name)
    ).all()
    live = live_key_counts(session, now)
    told = disclosure_counts(session, since=now - timedelta(days=days))
    return [
        PartnerSummary(
            partner=partner,
            products=product_codes(partner),
            live_keys=live.get(partner.id, 0),
            recent_disclosures=told.get(partner.id, 0),
        )
        for partner in found
    ]


def live_key_counts(session: Session, now: datetime) -> dict[uuid.UUID, int]:
    """Keys per partner that ``partners.key_state`` calls active: not revoked, not expired."""
    rows = session.execute(
        select(PartnerKey.partner_id, func.count())
        .where(
            PartnerKey.revoked_at.is_(None),
            or_(PartnerKey.expires_at.is_(None), PartnerKey.expires_at > now),
        )
        .group_by(PartnerKey.partner_id)
    ).all()
    return {partner_id: count for partner_id, count in rows}


def disclosure_counts(session: Session, *, since: datetime) -> dict[uuid.UUID, int]:
    # The (partner_id, disclosed_at) index answers this without reading old disclosures.
    rows = session.execute(
        select(Disclosure.partner_id, func.count())
        .where(Disclosure.disclosed_at >= since)
        .group_by(Disclosure.partner_id)
    ).all()
    return {partner_id: count for partner_id, count in rows}


def product_codes(partner: Partner) -> list[str]:
    return sorted(link.product.code for link in partner.products)
