"""Server signing keys: the first key, rotation, the JWK Set, and leases verified from it."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from cryptography.hazmat.primitives.serialization import Encoding, NoEncryption, PrivateFormat
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import SealBroken, Sealer
from licensing.models import AuditEvent, ServerKey
from licensing.services import server_keys
from tests.factories import latest_event, make_edition

NOW = datetime(2025, 3, 1, 12, 0, tzinfo=UTC)


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def rfc7638_thumbprint(jwk: dict[str, str]) -> str:
    members = {name: jwk[name] for name in ("crv", "kty", "x")}
    canonical = json.dumps(members, separators=(",", ":"), sort_keys=True)
    return b64url(hashlib.sha256(canonical.encode("utf-8")).digest())


def test_the_first_key_is_created_once(session: Session, sealer: Sealer, actor: str) -> None:
    first = server_keys.ensure_active_key(session, sealer, actor=actor)
    again = server_keys.ensure_active_key(session, sealer, actor=actor)

    assert again.kid == first.kid
    assert session.scalar(select(func.count()).select_from(ServerKey)) == 1
    created = select(func.count()).where(AuditEvent.action == "server_key.created")
    assert session.scalar(created) == 1


def test_rotation_retires_the_old_key_but_publishes_it_until_leases_expire(
    session: Session, sealer: Sealer, actor: str
) -> None:
    make_edition(session, offline_grace_days=14)
    old = server_keys.ensure_active_key(session, sealer, actor=actor)
    new = server_keys.rotate(session, sealer, actor=actor, now=NOW)

    assert old.retired_at == NOW
    assert old.publish_until == NOW + timedelta(days=14)  # the longest offline grace
    assert server_keys.active_key(session) == new
    assert server_keys.signing_key(session, sealer).kid == new.kid
    event = latest_event(session)
    assert (event.action, event.subject_id, event.actor) == ("server_key.rotated", new.kid, actor)

    def published(at: datetime) -> set[str]:
        return {jwk["kid"] for jwk in server_keys.jwks(session, now=at)["keys"]}

    assert published(NOW + timedelta(days=13)) == {old.kid, new.kid}
    assert published(NOW + timedelta(days=14)) == {new.kid}


def test_without_editions_a_retired_key_stays_published_for_the_default_lease(
    session: Session, sealer: Sealer, actor: str
) -> None:
    old = server_keys.ensure_active_key(session, sealer, actor=actor)
    server_keys.rotate(session, sealer, actor=actor, now=NOW)
    assert old.publish_until == NOW + timedelta(days=server_keys.DEFAULT_LEASE_DAYS)


def test_jwks_entries_are_ed25519_public_keys_named_by_thumbprint(
    session: Session, sealer: Sealer, actor: str
) -> None:
    key = server_keys.ensure_active_key(session, sealer, actor=actor)
    (jwk,) = server_keys.jwks(session)["keys"]

    assert set(jwk) == {"kty", "crv", "x", "kid", "use", "alg"}
    assert (jwk["kty"], jwk["crv"], jwk["use"], jwk["alg"]) == ("OKP", "Ed25519", "sig", "EdDSA")
    assert jwk["x"] == b64url(key.public_key)
    assert jwk["kid"] == key.kid == rfc7638_thumbprint(jwk)


def test_the_private_key_is_stored_sealed(session: Session, sealer: Sealer, actor: str) -> None:
    key = server_keys.ensure_active_key(session, sealer, actor=actor)
    private = server_keys.signing_key(session, sealer).private_key
    raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())

    assert raw not in key.sealed_private_key
    assert key.sealed_private_key != raw
    with pytest.raises(SealBroken, match="does not open"):
        server_keys.signing_key(session, Sealer(bytes(32)))


def test_a_lease_verifies_with_nothing_but_the_jwks(
    session: Session, sealer: Sealer, actor: str
) -> None:
    server_keys.ensure_active_key(session, sealer, actor=actor)
    signing = server_keys.signing_key(session, sealer)
    claims = {"iss": "licensing-test", "sub": "lease", "exp": datetime.now(UTC) + timedelta(days=1)}
    token = jwt.encode(claims, signing.private_key, algorithm="EdDSA", headers={"kid": signing.kid})

    key_set = jwt.PyJWKSet.from_dict(server_keys.jwks(session))
    kid = jwt.get_unverified_header(token)["kid"]
    decoded = jwt.decode(token, key_set[kid].key, algorithms=["EdDSA"], issuer="licensing-test")
    assert decoded["sub"] == "lease"

    header, _, signature = token.split(".")
    other_claims = b64url(json.dumps({**decoded, "sub": "another-lease"}).encode())
    forged = f"{header}.{other_claims}.{signature}"
    with pytest.raises(jwt.InvalidSignatureError):
        jwt.decode(forged, key_set[kid].key, algorithms=["EdDSA"], issuer="licensing-test")


def test_signing_needs_a_key(session: Session, sealer: Sealer) -> None:
    with pytest.raises(RuntimeError, match="no server signing key"):
        server_keys.signing_key(session, sealer)
