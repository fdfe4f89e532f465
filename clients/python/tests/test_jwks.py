"""Pinned keys: a JWK Set dict or file; only Ed25519 signing keys count."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from fakeserver import ServerKey
from licensing_client import ConfigurationError, TrustedKeys


def test_from_a_dict_or_a_file(tmp_path: Path, jwks: dict[str, Any], server_key: ServerKey) -> None:
    path = tmp_path / "jwks.json"
    path.write_text(json.dumps(jwks))
    for source in (jwks, path, str(path)):
        keys = TrustedKeys.load(source)
        assert keys.kids == (server_key.kid,)
        assert keys.get(server_key.kid) is not None
        assert keys.get("other") is None


def test_other_keys_are_skipped(server_key: ServerKey) -> None:
    jwks = {
        "keys": [
            {"kty": "RSA", "kid": "rsa", "n": "AQAB", "e": "AQAB"},
            {**server_key.jwk, "kid": "enc", "use": "enc"},
            {**server_key.jwk, "kid": "x25519", "crv": "X25519"},
            server_key.jwk,
        ]
    }
    assert TrustedKeys.load(jwks).kids == (server_key.kid,)


@pytest.mark.parametrize(
    "document",
    [{}, {"keys": []}, {"keys": "nope"}, {"keys": [{"kty": "RSA"}]}],
)
def test_no_usable_key_is_a_configuration_error(document: dict[str, Any]) -> None:
    with pytest.raises(ConfigurationError):
        TrustedKeys.load(document)


def test_a_broken_key_or_file(tmp_path: Path, server_key: ServerKey) -> None:
    with pytest.raises(ConfigurationError, match="Ed25519"):
        TrustedKeys.load({"keys": [{**server_key.jwk, "x": "AAAA"}]})
    with pytest.raises(ConfigurationError, match="cannot read"):
        TrustedKeys.load(tmp_path / "missing.json")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(ConfigurationError, match="JSON object"):
        TrustedKeys.load(tmp_path / "list.json")
