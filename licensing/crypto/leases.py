"""Lease tokens (PROTOCOL.md §4): EdDSA JWTs any JWT library verifies with the JWK Set."""

from __future__ import annotations

import base64
import hmac
import secrets
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

import jwt

from licensing.crypto.sealing import Sealer
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


# The keyed-hash purpose of the tag a lease id carries (crypto/sealing.py HASH_PURPOSES).
LEASE_ID_PURPOSE = "lease-id"
_RANDOM_BYTES = 12  # 16 characters of base64url
_TAG_BYTES = 9  # 12 characters: a forger's chance per guess is 2**-72


def new_lease_id(sealer: Sealer, activation_id: uuid.UUID | None) -> str:
    """A fresh ``jti`` bound to its activation: ``random "." tag``, 29 characters.

    Chosen before the check-in is written, which stores it (lease chain). The tag is a
    keyed hash of the activation and the random part, so a presented id is checked with
    one HMAC (:func:`lease_id_verifies`) before anything is written for it. Without an
    activation id (a check-in naming only its fingerprint) the id is random alone: it is
    a valid lease id, but presenting it later is not evidence.
    """
    random = secrets.token_bytes(_RANDOM_BYTES)
    if activation_id is None:
        return _text(random)
    return f"{_text(random)}.{_text(_tag(sealer, activation_id, random))}"


def lease_id_verifies(sealer: Sealer, jti: str, activation_id: uuid.UUID | None) -> bool:
    """Whether ``jti`` is an id this server issued to ``activation_id`` (one HMAC).

    Anything else is False, not an error: ids of leases issued before ids were tagged
    (UUIDs), ids issued to another activation, and made-up ones.
    """
    if activation_id is None:
        return False
    random_text, dot, tag_text = jti.partition(".")
    if not dot or len(random_text) != 16 or len(tag_text) != 12:
        return False
    try:
        random = base64.urlsafe_b64decode(random_text)
        tag = base64.urlsafe_b64decode(tag_text)
    except ValueError:
        return False
    if _text(random) != random_text or _text(tag) != tag_text:  # no second spelling of one id
        return False
    return hmac.compare_digest(tag, _tag(sealer, activation_id, random))


def _tag(sealer: Sealer, activation_id: uuid.UUID, random: bytes) -> bytes:
    return sealer.keyed_hash(LEASE_ID_PURPOSE, activation_id.bytes + random)[:_TAG_BYTES]


def _text(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).decode("ascii")


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
