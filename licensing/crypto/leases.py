"""Lease tokens (PROTOCOL.md §4): EdDSA JWTs any JWT library verifies with the JWK Set."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from licensing.crypto.server_keys import SigningKey
from licensing.timeutil import rfc3339

LEASE_TYPE = "license-lease+jwt"


@dataclass(frozen=True, slots=True)
class LeaseTerms:
    license_id: uuid.UUID
    product_code: str
    activation_id: uuid.UUID
    fingerprint: str
    entitlements: Sequence[str]
    license_status: str
    license_expires_at: datetime | None
    upgrade_protection_until: datetime | None
    offline_grace: timedelta


def issue_lease(terms: LeaseTerms, key: SigningKey, *, issuer: str, now: datetime, jti: str) -> str:
    """A lease valid for the offline grace, never past the license's own expiry.

    ``jti`` is the id the activation's row already names as its newest lease.
    """
    expires = now + terms.offline_grace
    if terms.license_expires_at is not None:
        expires = min(expires, terms.license_expires_at)
    issued = int(now.timestamp())
    claims = {
        "iss": issuer,
        "sub": str(terms.license_id),
        "aud": terms.product_code,
        "iat": issued,
        "nbf": issued,
        "exp": int(expires.timestamp()),
        "jti": jti,
        "act": str(terms.activation_id),
        "fpr": terms.fingerprint,
        "ent": list(terms.entitlements),
        "lst": terms.license_status,
        "lexp": rfc3339(terms.license_expires_at),
        "upg": rfc3339(terms.upgrade_protection_until),
    }
    return jwt.encode(
        claims, key.private_key, algorithm="EdDSA", headers={"kid": key.kid, "typ": LEASE_TYPE}
    )
