"""Lease verification (PROTOCOL.md §4): an EdDSA JWT checked against the pinned keys."""

from __future__ import annotations

import jwt

from licensing_client.errors import LicensingClientError, UnexpectedResponseError
from licensing_client.jwks import TrustedKeys
from licensing_client.models import Lease

LEASE_TYPE = "license-lease+jwt"
REQUIRED_CLAIMS = ("iss", "sub", "aud", "iat", "nbf", "exp", "jti", "act", "fpr")
# The longest ``jti`` the server takes back as ``lease_jti`` (docs/protocol.md).
MAX_LEASE_ID = 64
# A lease is dated by the server's clock; a client clock a little behind must not find
# a lease it has just received "not yet valid". Expiry gets no leeway.
NOT_BEFORE_LEEWAY = 300


class LeaseError(LicensingClientError):
    """The lease does not verify (``LEASE_INVALID``) or has run out (``LEASE_EXPIRED``)."""

    default_code = "LEASE_INVALID"
    lease: Lease | None = None


def verify_lease(
    token: str,
    keys: TrustedKeys,
    *,
    product: str,
    fingerprint: str,
    now: float,
    issuer: str | None = None,
) -> Lease:
    """The verified lease; ``exp`` is compared with ``now`` (the client's clock)."""
    try:
        header = jwt.get_unverified_header(token)
    except jwt.InvalidTokenError as exc:
        raise LeaseError(f"the lease is not a JWT: {exc}") from None
    if header.get("typ") != LEASE_TYPE or header.get("alg") != "EdDSA":
        raise LeaseError("the token is not an EdDSA license lease")
    kid = header.get("kid")
    key = keys.get(kid) if isinstance(kid, str) else None
    if key is None or not isinstance(kid, str):
        raise LeaseError(f"the lease is signed by key {kid!r}, which is not a pinned key")
    try:
        claims = jwt.decode(
            token,
            key,
            algorithms=["EdDSA"],
            audience=product,
            issuer=issuer,
            options={
                "require": list(REQUIRED_CLAIMS),
                "verify_iss": issuer is not None,
                # Times are checked below with the client's (injectable) clock.
                "verify_exp": False,
                "verify_nbf": False,
                "verify_iat": False,
            },
        )
    except jwt.InvalidTokenError as exc:
        raise LeaseError(f"the lease does not verify: {exc}") from None
    try:
        lease = Lease.from_claims(token, kid, claims)
    except UnexpectedResponseError as exc:
        raise LeaseError(f"the lease's claims are not usable: {exc.detail}") from None
    if lease.fingerprint != fingerprint:
        raise LeaseError("the lease is bound to another instance (fpr)")
    if now + NOT_BEFORE_LEEWAY < lease.not_before.timestamp():
        raise LeaseError("the lease is not valid yet (nbf)")
    if now >= lease.expires_at.timestamp():
        expired = LeaseError(
            f"the lease expired at {lease.expires_at:%Y-%m-%dT%H:%M:%SZ}", code="LEASE_EXPIRED"
        )
        expired.lease = lease
        raise expired
    return lease


def lease_id_of(token: str | None) -> str | None:
    """The ``jti`` of a stored lease, to name it on the next check-in (the lease chain).

    Read without verifying: the lease was verified when it was stored, an expired one is
    still the last one this instance holds, and the id is only evidence for the server.
    A token that does not parse, or an id the server would refuse (not 1-64 printable
    ASCII characters), is not sent: a damaged state file must not fail the check-in.
    """
    if not token:
        return None
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.InvalidTokenError:
        return None
    jti = claims.get("jti") if isinstance(claims, dict) else None
    if not isinstance(jti, str) or not 1 <= len(jti) <= MAX_LEASE_ID:
        return None
    if not all(" " <= symbol <= "~" for symbol in jti):
        return None
    return jti
