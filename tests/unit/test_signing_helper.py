"""The test client's signer (tests/signing.py) reproduces docs/protocol.md byte for byte.

The helper is written from the contract alone; if it agrees with the published test
vector, tests that use it check the server against the contract, not against itself.
"""

from __future__ import annotations

import pytest

from tests.signing import Credentials, content_digest, normalise_key, sign

DISPLAY = "6E86N-JY2MX-K1WS8-JMXTQ-EHXDK"
BODY = (
    b'{"fingerprint":"3f9c1a7e5b2d4c6a8e0f1b3d5c7a9e2f","server_name":"mail01.example.com",'
    b'"product_version":"6.2.1","usage":{"mailboxes":120}}'
)


def test_key_id_and_secret_match_the_documented_vector() -> None:
    credentials = Credentials.from_license_key(DISPLAY)
    assert credentials.key_id == "_2VeT-FaaH_RjrT-cXOo1w"
    assert credentials.secret.hex() == (
        "83dc2f7fa1037f9b342bf0abdce4bbe44c4b1d100e842feffb7f556a5821048e"
    )
    assert normalise_key("6e86n jy2mx klws8 jmxtq ehxdk") == "6E86NJY2MXK1WS8JMXTQEHXDK"


def test_a_wrong_check_symbol_is_refused() -> None:
    with pytest.raises(ValueError, match="check symbol"):
        normalise_key("6E86N-JY2MX-K1WS8-JMXTQ-EHXDA")


def test_digests_match_the_documented_vector() -> None:
    assert content_digest(BODY) == "sha-256=:9a5GpE+c+W3Rv04lNMsNkp2Fj98iSnykXi/AsF90lUc=:"
    assert content_digest(b"") == "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"


def test_the_signature_matches_the_documented_vector() -> None:
    signed = sign(
        Credentials.from_license_key(DISPLAY),
        "POST",
        "/v1/instance/check-ins",
        BODY,
        created=1767225600,
        nonce="q3v2Xr8kT0mC1bY9sPzN4w",
        alg=None,
    )
    assert signed.headers["Signature-Input"] == (
        'sig1=("@method" "@path" "content-digest");created=1767225600;'
        'keyid="_2VeT-FaaH_RjrT-cXOo1w";nonce="q3v2Xr8kT0mC1bY9sPzN4w";'
        'tag="licensing/v1/call-home"'
    )
    assert signed.headers["Signature"] == "sig1=:Tniv3U/0AT49OYY2xyy3Zgwjjrm71NVwoyASjSch98A=:"
    assert signed.headers["Content-Type"] == "application/json"
