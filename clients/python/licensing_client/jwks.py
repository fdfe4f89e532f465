"""Pinned server keys: an RFC 7517 JWK Set of Ed25519 keys (PROTOCOL.md §3)."""

from __future__ import annotations

import base64
import binascii
import json
import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from licensing_client.errors import ConfigurationError

JwksSource = Mapping[str, Any] | str | os.PathLike[str]


class TrustedKeys:
    """The Ed25519 public keys this client accepts, by ``kid``. Never fetched by itself."""

    def __init__(self, keys: Mapping[str, Ed25519PublicKey]) -> None:
        if not keys:
            raise ConfigurationError("the JWK Set holds no usable Ed25519 signing key")
        self._keys = dict(keys)

    @classmethod
    def load(cls, source: JwksSource | TrustedKeys) -> TrustedKeys:
        """From a JWK Set dict or the path of a JWK Set JSON file."""
        if isinstance(source, TrustedKeys):
            return source
        if isinstance(source, Mapping):
            return cls.from_jwks(source)
        try:
            document = json.loads(Path(source).read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ConfigurationError(
                f"cannot read the JWK Set {os.fspath(source)!r}: {exc}"
            ) from None
        if not isinstance(document, dict):
            raise ConfigurationError("the JWK Set file does not hold a JSON object")
        return cls.from_jwks(document)

    @classmethod
    def from_jwks(cls, jwks: Mapping[str, Any]) -> TrustedKeys:
        entries = jwks.get("keys")
        if not isinstance(entries, list):
            raise ConfigurationError('a JWK Set needs a "keys" list')
        keys: dict[str, Ed25519PublicKey] = {}
        for entry in entries:
            parsed = _ed25519(entry)
            if parsed is not None:
                keys[parsed[0]] = parsed[1]
        return cls(keys)

    def get(self, kid: str) -> Ed25519PublicKey | None:
        return self._keys.get(kid)

    @property
    def kids(self) -> tuple[str, ...]:
        return tuple(self._keys)

    def __repr__(self) -> str:
        return f"TrustedKeys(kids={list(self._keys)!r})"


def _ed25519(entry: object) -> tuple[str, Ed25519PublicKey] | None:
    """``(kid, key)`` for an OKP/Ed25519 signing JWK; other keys are skipped."""
    if not isinstance(entry, dict):
        return None
    if entry.get("kty") != "OKP" or entry.get("crv") != "Ed25519":
        return None
    if entry.get("use", "sig") != "sig" or entry.get("alg", "EdDSA") != "EdDSA":
        return None
    kid, x = entry.get("kid"), entry.get("x")
    if not isinstance(kid, str) or not kid or not isinstance(x, str):
        return None
    try:
        raw = base64.urlsafe_b64decode(x + "=" * (-len(x) % 4))
        return kid, Ed25519PublicKey.from_public_bytes(raw)
    except (ValueError, binascii.Error):
        raise ConfigurationError(f"JWK {kid!r} does not hold an Ed25519 public key") from None
