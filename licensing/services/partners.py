"""Partners: registration, the products they sell, and their API keys."""

from __future__ import annotations

import ipaddress
import re
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from limits import parse as parse_rate_limit
from sqlalchemy import select
from sqlalchemy.orm import Session, selectinload

from licensing.crypto.sealing import Sealer
from licensing.errors import Conflict, InvalidRequest, InvalidTransition, NotFound
from licensing.models import Partner, PartnerKey, PartnerKind, PartnerProduct, PartnerStatus, Scope
from licensing.services import audit, catalog
from licensing.timeutil import utcnow

KEY_PREFIX = "lpk"
_KEY = re.compile(rf"^{KEY_PREFIX}_([A-Za-z0-9]{{12}})_([A-Za-z0-9_-]{{43}})$")
_KEY_ID_ALPHABET = "abcdefghijkmnpqrstuvwxyzABCDEFGHJKLMNPQRSTUVWXYZ23456789"


@dataclass(frozen=True, slots=True)
class IssuedPartnerKey:
    """A new API key: the only moment its secret exists outside a digest."""

    key: PartnerKey
    token: str


def add_partner(
    session: Session,
    *,
    name: str,
    kind: str,
    allowed_networks: Sequence[str] = (),
    rate_limit: str | None = None,
    actor: str,
) -> Partner:
    if not name.strip():
        raise InvalidRequest("partner name must not be empty", errors={"name": ["empty"]})
    if kind not in set(PartnerKind):
        raise InvalidRequest(f"partner kind must be one of {', '.join(PartnerKind)}")
    if session.scalar(select(Partner.id).where(Partner.name == name.strip())):
        raise Conflict(f"a partner named {name.strip()!r} already exists")
    partner = Partner(
        name=name.strip(),
        kind=kind,
        status=PartnerStatus.ACTIVE,
        allowed_networks=normalise_networks(allowed_networks),
        rate_limit=validate_rate_limit(rate_limit),
    )
    session.add(partner)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="partner.added",
        subject_type="partner",
        subject_id=partner.id,
        data={"kind": kind},
    )
    return partner


def normalise_networks(networks: Sequence[str]) -> list[str]:
    """CIDRs (IPv4 or IPv6, a bare address is a /32 or /128), normalised."""
    normalised = []
    for text in networks:
        try:
            normalised.append(str(ipaddress.ip_network(text.strip(), strict=False)))
        except ValueError:
            raise InvalidRequest(f"{text!r} is not an IP network (CIDR)") from None
    return sorted(set(normalised))


def validate_rate_limit(text: str | None) -> str | None:
    if text is None or not text.strip():
        return None
    try:
        limit = parse_rate_limit(text.strip())
    except ValueError:
        raise InvalidRequest(f"{text!r} is not a rate limit such as '120/minute'") from None
    if limit.amount < 1:
        raise InvalidRequest(f"{text!r} would refuse every request; give at least 1")
    return text.strip()


def find_partner(session: Session, reference: str) -> Partner:
    """A partner by id or by its unique name."""
    try:
        partner = session.get(Partner, uuid.UUID(reference))
    except ValueError:
        partner = session.scalar(select(Partner).where(Partner.name == reference.strip()))
    if partner is None:
        raise NotFound(f"no partner {reference!r}")
    return partner


def get_partner(session: Session, partner_id: uuid.UUID, *, for_update: bool = False) -> Partner:
    """A partner by id; ``for_update`` holds its row until the commit (one change at a time)."""
    # A query, not session.get: its products come with it whatever the session holds
    # (a page lists them, and every action on them looks).
    query = (
        select(Partner)
        .where(Partner.id == partner_id)
        .options(selectinload(Partner.products).selectinload(PartnerProduct.product))
    )
    partner = session.scalar(query.with_for_update() if for_update else query)
    if partner is None:
        raise NotFound(f"no partner {str(partner_id)!r}")
    return partner


def list_partners(session: Session) -> Sequence[Partner]:
    return session.scalars(select(Partner).order_by(Partner.name)).all()


def set_status(session: Session, partner: Partner, status: PartnerStatus, *, actor: str) -> Partner:
    if partner.status == status:
        raise InvalidTransition(f"partner {partner.name!r} is already {status}")
    partner.status = status
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"partner.{status}",
        subject_type="partner",
        subject_id=partner.id,
    )
    return partner


def add_product(session: Session, partner: Partner, product_code: str, *, actor: str) -> None:
    product = catalog.get_product(session, product_code)
    if any(link.product_id == product.id for link in partner.products):
        raise Conflict(f"{partner.name!r} is already registered for {product_code!r}")
    partner.products.append(PartnerProduct(product_id=product.id))
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="partner.product_added",
        subject_type="partner",
        subject_id=partner.id,
        data={"product": product_code},
    )


def remove_product(session: Session, partner: Partner, product_code: str, *, actor: str) -> None:
    product = catalog.get_product(session, product_code)
    links = [link for link in partner.products if link.product_id == product.id]
    if not links:
        raise NotFound(f"{partner.name!r} is not registered for {product_code!r}")
    partner.products.remove(links[0])
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="partner.product_removed",
        subject_type="partner",
        subject_id=partner.id,
        data={"product": product_code},
    )


def create_key(
    session: Session,
    sealer: Sealer,
    partner: Partner,
    *,
    scopes: Sequence[str],
    expires_at: datetime | None = None,
    label: str | None = None,
    actor: str,
    now: datetime | None = None,
) -> IssuedPartnerKey:
    unknown = sorted(set(scopes) - set(Scope))
    if unknown or not scopes:
        raise InvalidRequest(
            f"scopes must be among {', '.join(Scope)}"
            + (f"; unknown: {', '.join(unknown)}" if unknown else "")
        )
    if expires_at is not None and expires_at <= (now or utcnow()):
        raise InvalidRequest("the key's expiry must be in the future")
    key_id = "".join(secrets.choice(_KEY_ID_ALPHABET) for _ in range(12))
    secret = secrets.token_urlsafe(32)
    key = PartnerKey(
        partner_id=partner.id,
        key_id=key_id,
        digest=secret_digest(sealer, secret),
        label=(label or "").strip() or None,
        scopes=sorted(set(scopes)),
        expires_at=expires_at,
    )
    session.add(key)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="partner.key_created",
        subject_type="partner",
        subject_id=partner.id,
        data={"key_id": key_id, "scopes": key.scopes},
    )
    return IssuedPartnerKey(key=key, token=f"{KEY_PREFIX}_{key_id}_{secret}")


def secret_digest(sealer: Sealer, secret: str) -> bytes:
    """Keyed, so a database dump alone cannot be used to test guessed keys."""
    return sealer.keyed_hash("partner-key", secret.encode("ascii"))


def parse_token(token: str) -> tuple[str, str] | None:
    """``(key_id, secret)`` of a well-formed token, else None."""
    match = _KEY.match(token.strip())
    return (match.group(1), match.group(2)) if match else None


def list_keys(session: Session, partner: Partner) -> Sequence[PartnerKey]:
    return session.scalars(
        select(PartnerKey)
        .where(PartnerKey.partner_id == partner.id)
        .order_by(PartnerKey.created_at)
    ).all()


def key_state(key: PartnerKey, now: datetime) -> str:
    """``revoked``, ``expired`` or ``active``: whether the key still opens the partner API."""
    if key.revoked_at is not None:
        return "revoked"
    if key.expires_at is not None and key.expires_at <= now:
        return "expired"
    return "active"


def revoke_key(
    session: Session,
    key_id: str,
    *,
    actor: str,
    partner: Partner | None = None,
    now: datetime | None = None,
) -> PartnerKey:
    """Revoke a key by its key id; given ``partner``, only a key of that partner."""
    key = session.scalar(select(PartnerKey).where(PartnerKey.key_id == key_id.strip()))
    if key is None or (partner is not None and key.partner_id != partner.id):
        raise NotFound(f"no partner key {key_id!r}" + (f" of {partner.name!r}" if partner else ""))
    if key.revoked_at is not None:
        raise InvalidTransition(f"partner key {key_id!r} is already revoked")
    key.revoked_at = now or utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="partner.key_revoked",
        subject_type="partner",
        subject_id=key.partner_id,
        data={"key_id": key.key_id},
    )
    return key
