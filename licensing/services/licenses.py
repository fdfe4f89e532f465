"""Licenses: issue, look up, and every state change, each audited."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.crypto.license_keys import LicenseKey
from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, InvalidTransition, MalformedKey, NotFound
from licensing.models import (
    Customer,
    Edition,
    License,
    LicenseStatus,
    Product,
)
from licensing.services import audit, processing_restriction
from licensing.timeutil import add_months, utcnow

TABLE = "licenses"


@dataclass(frozen=True, slots=True)
class IssuedLicense:
    """A new license and its key: the only moment the key exists outside its seal."""

    license: License
    key: LicenseKey


def issue(
    session: Session,
    sealer: Sealer,
    *,
    product: Product,
    edition: Edition,
    customer: Customer,
    actor: str,
    expires_at: datetime | None = None,
    upgrade_protection_until: datetime | None = None,
    selling_partner_id: uuid.UUID | None = None,
    now: datetime | None = None,
) -> IssuedLicense:
    if edition.product_id != product.id:
        raise InvalidRequest(f"edition {edition.code!r} belongs to another product")
    now = now or utcnow()
    key = license_keys.generate()
    license_id = uuid.uuid4()
    if expires_at is None and edition.term_days is not None:
        expires_at = now + timedelta(days=edition.term_days)
    if expires_at is not None and expires_at <= now:
        raise InvalidRequest("expiry must be in the future", errors={"expires_at": ["in the past"]})
    license = License(
        id=license_id,
        key_id=key.key_id,
        sealed_key=sealer.seal(key.normalised.encode("ascii"), table=TABLE, row_id=license_id),
        key_hint=key.hint,
        product_id=product.id,
        edition_id=edition.id,
        customer_id=customer.id,
        selling_partner_id=selling_partner_id,
        status=LicenseStatus.ACTIVE,
        status_changed_at=now,
        issued_at=now,
        expires_at=expires_at,
        upgrade_protection_until=upgrade_protection_until
        or add_months(now, edition.upgrade_protection_months),
        # A restriction or objection is the customer's, not one license's: a license
        # issued while it stands is restricted from its first check-in.
        processing_restricted=processing_restriction.is_restricted(session, customer.id),
    )
    session.add(license)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="license.issued",
        subject_type="license",
        subject_id=license.id,
        data={"key_id": key.key_id, "product": product.code, "edition": edition.code},
        now=now,
    )
    return IssuedLicense(license=license, key=key)


def find(session: Session, reference: str) -> License:
    """A license by id, by key id, or by its key (any formatting)."""
    reference = reference.strip()
    try:
        found = session.get(License, uuid.UUID(reference))
    except ValueError:
        if license_keys.is_key_id(reference):
            found = session.scalar(select(License).where(License.key_id == reference))
            if found is None:
                raise NotFound("no license has that key id") from None
            return found
        try:
            key = license_keys.parse(reference)
        except MalformedKey as exc:
            raise MalformedKey(f"{exc.detail}; give a license id, key id or license key") from None
        found = session.scalar(select(License).where(License.key_id == key.key_id))
    if found is None:
        raise NotFound("no license matches that id or key")
    return found


def list_licenses(
    session: Session, *, product_code: str | None = None, status: str | None = None
) -> Sequence[License]:
    query = select(License).order_by(License.issued_at)
    if product_code is not None:
        query = query.join(Product, License.product_id == Product.id).where(
            Product.code == product_code
        )
    if status is not None:
        if status not in set(LicenseStatus):
            raise InvalidRequest(f"status must be one of {', '.join(LicenseStatus)}")
        query = query.where(License.status == status)
    return session.scalars(query).all()


def reveal_key(session: Session, sealer: Sealer, license: License, *, actor: str) -> LicenseKey:
    """Open the sealed key so support can re-send it; audited like any disclosure."""
    normalised = sealer.open(license.sealed_key, table=TABLE, row_id=license.id).decode("ascii")
    audit.record(
        session,
        actor=actor,
        action="license.key_revealed",
        subject_type="license",
        subject_id=license.id,
        data={"key_id": license.key_id},
    )
    return LicenseKey(normalised)


def suspend(session: Session, license: License, *, reason: str, actor: str) -> License:
    _require(license, {LicenseStatus.ACTIVE}, "suspend")
    return _change_status(
        session, license, LicenseStatus.SUSPENDED, reason=reason, actor=actor, verb="suspended"
    )


def reinstate(session: Session, license: License, *, reason: str, actor: str) -> License:
    _require(license, {LicenseStatus.SUSPENDED}, "reinstate")
    return _change_status(
        session, license, LicenseStatus.ACTIVE, reason=reason, actor=actor, verb="reinstated"
    )


def check_revocable(license: License) -> None:
    """Raise unless ``license`` can be revoked (before asking anyone to confirm it)."""
    _require(license, {LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED}, "revoke")


def revoke(
    session: Session,
    license: License,
    *,
    reason: str,
    actor: str,
    four_eyes: bool,
    requested_by: str | None = None,
    request_id: str | None = None,
) -> License:
    """Revoke for good; under four eyes ``actor`` approved what ``requested_by`` asked for."""
    check_revocable(license)
    # Whatever the face (console, CLI, a script), nobody revokes alone under four eyes.
    if four_eyes and not (requested_by and request_id):
        raise InvalidTransition(
            "four eyes are on: a revocation needs a second admin's approval of a request"
        )
    approval = {"requested_by": requested_by, "request_id": request_id} if requested_by else {}
    return _change_status(
        session,
        license,
        LicenseStatus.REVOKED,
        reason=reason,
        actor=actor,
        verb="revoked",
        extra=approval,
    )


def renew_upgrade_protection(
    session: Session,
    license: License,
    *,
    actor: str,
    months: int | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> License:
    """Extend upgrade protection: to ``until``, or by ``months`` (default: the edition's)."""
    _require(license, {LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED}, "renew")
    now = now or utcnow()
    previous = license.upgrade_protection_until
    if until is None:
        length = license.edition.upgrade_protection_months if months is None else months
        if length < 1:
            raise InvalidRequest("renewal must be for at least one month")
        # Renewing early adds to the current end; renewing late starts from today.
        start = max(previous, now) if previous is not None else now
        until = add_months(start, length)
    elif previous is not None and until <= previous:
        raise InvalidRequest("the new protection end must be after the current one")
    license.upgrade_protection_until = until
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="license.protection_renewed",
        subject_type="license",
        subject_id=license.id,
        data={"from": _iso(previous), "to": _iso(until)},
    )
    return license


def extend_term(
    session: Session,
    license: License,
    *,
    actor: str,
    days: int | None = None,
    until: datetime | None = None,
    now: datetime | None = None,
) -> License:
    """Move a term license's expiry: to ``until``, or ``days`` past its current end."""
    _require(license, {LicenseStatus.ACTIVE, LicenseStatus.SUSPENDED}, "extend")
    if license.expires_at is None:
        raise InvalidTransition("the license is perpetual; there is no term to extend")
    now = now or utcnow()
    previous = license.expires_at
    if until is None:
        if days is None or days < 1:
            raise InvalidRequest("give the number of days (at least 1) or a new end date")
        until = max(previous, now) + timedelta(days=days)
    elif until <= now:
        raise InvalidRequest("the new expiry must be in the future")
    license.expires_at = until
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="license.term_extended",
        subject_type="license",
        subject_id=license.id,
        data={"from": _iso(previous), "to": _iso(until)},
    )
    return license


def _require(license: License, allowed: set[LicenseStatus], verb: str) -> None:
    if license.status not in allowed:
        raise InvalidTransition(f"cannot {verb} a license that is {license.status}")


def _change_status(
    session: Session,
    license: License,
    status: LicenseStatus,
    *,
    reason: str,
    actor: str,
    verb: str,
    extra: Mapping[str, Any] | None = None,
) -> License:
    previous = license.status
    license.status = status
    license.status_reason = reason.strip() or None
    license.status_changed_at = utcnow()
    session.flush()
    audit.record(
        session,
        actor=actor,
        action=f"license.{verb}",
        subject_type="license",
        subject_id=license.id,
        data={"from": previous, "to": str(status), "reason": reason, **(extra or {})},
    )
    return license


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment is not None else None
