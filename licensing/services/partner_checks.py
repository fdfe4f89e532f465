"""What a partner may ask: is this key valid, which upgrades does it cover (PROTOCOL.md §6).

Answers carry no personal data (the partner schemas are the allow-list), and every
answer about a license is written to the disclosure log with the fields it carries.
"""

from __future__ import annotations

import hmac
import ipaddress
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.errors import Forbidden, NotFound, Unauthenticated
from licensing.models import PartnerKey, PartnerStatus, Product
from licensing.services import catalog, disclosures, partners, seats
from licensing.services.license_state import LicenseState, load_license_state, load_releases
from licensing.services.seats import Seats
from licensing.services.upgrades import Eligibility, eligibility
from licensing.services.verdicts import Verdict, license_verdict
from licensing.versions import parse_version

PURPOSE = "license_check"
# Writing last-used on every request would make every read a write.
_LAST_USED_RESOLUTION = timedelta(minutes=1)


class LicenseNotFound(NotFound):
    """The same answer for an unknown key and for a product the partner does not sell."""

    code = "LICENSE_NOT_FOUND"
    title = "License not found"

    def __init__(self) -> None:
        super().__init__("No license with this key among the products you are registered for.")


class PartnerKeyRefused(Unauthenticated):
    """No valid partner key; ``reason`` is for metrics.

    ``missing``, ``malformed`` (not a partner key at all), ``invalid`` (unknown key or
    wrong secret: the two are not told apart), ``revoked`` or ``expired``.
    """

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason


@dataclass(frozen=True, slots=True)
class PartnerPrincipal:
    partner_id: uuid.UUID
    partner_kind: str
    key_id: str
    scopes: frozenset[str]
    rate_limit: str | None
    product_ids: frozenset[uuid.UUID]


@dataclass(frozen=True, slots=True)
class Answered:
    """A license check and the answer sent (and logged) for it."""

    check: LicenseCheck
    answer: PartnerAnswer


@dataclass(frozen=True, slots=True)
class LicenseCheck:
    state: LicenseState
    verdict: Verdict
    activations: Seats
    upgrade: Eligibility | None


# The answer a partner is sent, by section (``license``, ``upgrade``) and field.
PartnerAnswer = Mapping[str, Mapping[str, Any]]


def authenticate(
    session: Session, sealer: Sealer, token: str | None, *, client_ip: str | None, now: datetime
) -> PartnerPrincipal:
    """The partner behind a bearer token: 401 for any bad key, 403 for a bad address."""
    parsed = partners.parse_token(token or "")
    if parsed is None:
        raise PartnerKeyRefused(
            "malformed" if token else "missing",
            "a partner API key is required: Authorization: Bearer lpk_...",
        )
    key_id, secret = parsed
    key = session.scalar(select(PartnerKey).where(PartnerKey.key_id == key_id))
    # Compare a digest even for an unknown key id, so timing does not tell them apart.
    expected = key.digest if key is not None else bytes(32)
    if not hmac.compare_digest(expected, partners.secret_digest(sealer, secret)) or key is None:
        raise PartnerKeyRefused("invalid", "the API key is not valid")
    if key.revoked_at is not None:
        raise PartnerKeyRefused("revoked", "the API key was revoked")
    if key.expires_at is not None and key.expires_at <= now:
        raise PartnerKeyRefused("expired", "the API key has expired")
    partner = key.partner
    if partner.status != PartnerStatus.ACTIVE:
        raise Forbidden("the partner account is suspended")
    if partner.allowed_networks and not _address_allowed(client_ip, partner.allowed_networks):
        raise Forbidden("requests from this address are not allowed for this partner")
    if key.last_used_at is None or now - key.last_used_at >= _LAST_USED_RESOLUTION:
        key.last_used_at = now
    return PartnerPrincipal(
        partner_id=partner.id,
        partner_kind=partner.kind,
        key_id=key.key_id,
        scopes=frozenset(key.scopes),
        rate_limit=partner.rate_limit,
        product_ids=frozenset(link.product_id for link in partner.products),
    )


def require_scope(principal: PartnerPrincipal, scope: str) -> None:
    if scope not in principal.scopes:
        raise Forbidden(f"the API key lacks the {scope} scope")


def check_license(
    session: Session,
    sealer: Sealer,
    principal: PartnerPrincipal,
    *,
    license_key: str,
    target_version: str | None,
    request_id: str,
    now: datetime,
    answer: Callable[[LicenseCheck], PartnerAnswer],
) -> Answered:
    """Validity and, with ``target_version``, upgrade eligibility; logged as a disclosure.

    ``answer`` renders the check as it will be sent; its fields are what the log records.
    """
    key = license_keys.parse(license_key)  # malformed: 422 before any lookup
    target = parse_version(target_version, field="target_version") if target_version else None
    state = load_license_state(session, sealer, key.key_id)
    if state is None or state.product_id not in principal.product_ids:
        raise LicenseNotFound()
    releases = load_releases(session, state.product_id)
    verdict = license_verdict(state, product_code=None, version=None, releases=releases, now=now)
    upgrade = (
        eligibility(target, releases, state.upgrade_protection_until, license_valid=verdict.valid)
        if target is not None
        else None
    )
    # A partner learns the figures, not when a migration seat ends: no second count.
    counted = seats.reported(seats.in_use(session, state.id), state.max_activations, None)
    check = LicenseCheck(state, verdict, counted, upgrade)
    sent = answer(check)
    disclosures.record(
        session,
        partner_id=principal.partner_id,
        partner_key_id=principal.key_id,
        partner_kind=principal.partner_kind,
        license_id=state.id,
        answer=sent,
        purpose=PURPOSE,
        request_id=request_id,
        now=now,
    )
    return Answered(check, sent)


def product_releases(
    session: Session, principal: PartnerPrincipal, product_code: str
) -> list[catalog.PublishedRelease]:
    """A registered product's releases; an unregistered product is as unknown as a missing one."""
    product = session.scalar(select(Product).where(Product.code == product_code))
    if product is None or product.id not in principal.product_ids:
        raise NotFound(f"no product {product_code!r} among the products you are registered for")
    return catalog.product_releases(session, product.id)


def _address_allowed(client_ip: str | None, networks: Sequence[str]) -> bool:
    if client_ip is None:
        return False
    address = ipaddress.ip_address(client_ip)
    return any(address in ipaddress.ip_network(network) for network in networks)
