"""Ed25519 server keys against the RFC 8037 Appendix A test vectors."""

from __future__ import annotations

import base64

from licensing.crypto import server_keys

# RFC 8037 A.1-A.3: the private key, its public key, and the public JWK's thumbprint.
RFC8037_D = "nWGxne_9WmC6hEr0kuwsxERJxWl7MmkZcDusAxyuf2A"
RFC8037_X = "11qYAYKxCrfVS_7TyWQHOg7hcvPapiMlrwIaaPcHURo"
RFC8037_THUMBPRINT = "kPrK_qmxVWaYVA9wwBF6Iuo3vVzz7TxHCTwXBygrS4k"


def unb64url(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def test_thumbprint_matches_rfc_8037() -> None:
    assert server_keys.thumbprint(unb64url(RFC8037_X)) == RFC8037_THUMBPRINT


def test_public_jwk_matches_rfc_8037() -> None:
    public_raw = unb64url(RFC8037_X)
    assert server_keys.public_jwk(RFC8037_THUMBPRINT, public_raw) == {
        "kty": "OKP",
        "crv": "Ed25519",
        "x": RFC8037_X,
        "kid": RFC8037_THUMBPRINT,
        "use": "sig",
        "alg": "EdDSA",
    }


def test_the_private_key_loads_to_its_public_key() -> None:
    private = server_keys.load_private(unb64url(RFC8037_D))
    public = server_keys.load_public(unb64url(RFC8037_X))
    signature = private.sign(b"payload")
    public.verify(signature, b"payload")  # raises InvalidSignature on a mismatch


def test_generated_keys_carry_their_thumbprint_as_kid() -> None:
    first, second = server_keys.generate(), server_keys.generate()
    assert first.kid == server_keys.thumbprint(first.public_raw)
    assert first.kid != second.kid
    assert len(first.public_raw) == len(first.private_raw) == 32
