"""Ed25519 server keys: generation, JWK (RFC 8037) and thumbprint key ids (RFC 7638)."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.serialization import (
    Encoding,
    NoEncryption,
    PrivateFormat,
    PublicFormat,
)

from licensing.crypto.encoding import b64url


@dataclass(frozen=True, slots=True)
class SigningKey:
    """The private key that signs responses and leases, with its published kid."""

    kid: str
    private_key: Ed25519PrivateKey


@dataclass(frozen=True, slots=True)
class GeneratedKey:
    kid: str
    public_raw: bytes
    private_raw: bytes


def generate() -> GeneratedKey:
    private = Ed25519PrivateKey.generate()
    public_raw = private.public_key().public_bytes(Encoding.Raw, PublicFormat.Raw)
    private_raw = private.private_bytes(Encoding.Raw, PrivateFormat.Raw, NoEncryption())
    return GeneratedKey(kid=thumbprint(public_raw), public_raw=public_raw, private_raw=private_raw)


def thumbprint(public_raw: bytes) -> str:
    """RFC 7638 thumbprint: the kid is derived from the key, never chosen."""
    canonical = json.dumps(
        {"crv": "Ed25519", "kty": "OKP", "x": b64url(public_raw)},
        separators=(",", ":"),
        sort_keys=True,
    )
    return b64url(hashlib.sha256(canonical.encode("ascii")).digest())


def public_jwk(kid: str, public_raw: bytes) -> dict[str, str]:
    return {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": b64url(public_raw),
        "kid": kid,
        "use": "sig",
        "alg": "EdDSA",
    }


def load_private(private_raw: bytes) -> Ed25519PrivateKey:
    return Ed25519PrivateKey.from_private_bytes(private_raw)


def load_public(public_raw: bytes) -> Ed25519PublicKey:
    return Ed25519PublicKey.from_public_bytes(public_raw)
