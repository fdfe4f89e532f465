"""Signed requests (PROTOCOL.md §2): what the server's library accepts, byte for byte."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime, timedelta

import pytest
import requests
from fakeserver import BASE_URL, VECTOR_KEY, Harness
from http_message_signatures import (
    HTTPMessageSigner,
    HTTPMessageVerifier,
    InvalidSignature,
    MappingKeyResolver,
    algorithms,
)
from licensing_client.keys import LicenseKey
from licensing_client.signing import new_nonce, sign_request

KEY = LicenseKey.parse(VECTOR_KEY)
CHECK_IN_BODY = (
    b'{"fingerprint":"3f9c1a7e5b2d4c6a8e0f1b3d5c7a9e2f","server_name":"mail01.example.com",'
    b'"product_version":"6.2.1","usage":{"mailboxes":120}}'
)


def _verifier() -> HTTPMessageVerifier:
    verifier = HTTPMessageVerifier(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(
            public_keys={KEY.key_id: KEY.signing_secret}, private_keys={}
        ),
    )
    verifier.max_clock_skew = timedelta(days=36500)
    return verifier


def _request(method: str, path: str, body: bytes | None) -> requests.PreparedRequest:
    headers = {"Content-Type": "application/json"} if body is not None else {}
    return requests.Request(method, BASE_URL + path, headers=headers, data=body).prepare()


def test_the_documented_signature_vector() -> None:
    """docs/protocol.md §3, steps 1-5: the secret derivation reproduces the signature."""
    request = _request("POST", "/v1/instance/check-ins", CHECK_IN_BODY)
    signer = HTTPMessageSigner(
        signature_algorithm=algorithms.HMAC_SHA256,
        key_resolver=MappingKeyResolver(
            public_keys={}, private_keys={KEY.key_id: KEY.signing_secret}
        ),
    )
    signer.sign(
        request,
        key_id=KEY.key_id,
        created=datetime(2026, 1, 1, tzinfo=UTC),
        nonce="q3v2Xr8kT0mC1bY9sPzN4w",
        label="sig1",
        tag="licensing/v1/call-home",
        include_alg=False,
        covered_component_ids=("@method", "@path", "content-digest"),
        body=CHECK_IN_BODY,
    )
    assert request.headers["Content-Digest"] == (
        "sha-256=:9a5GpE+c+W3Rv04lNMsNkp2Fj98iSnykXi/AsF90lUc=:"
    )
    assert request.headers["Signature"] == "sig1=:Tniv3U/0AT49OYY2xyy3Zgwjjrm71NVwoyASjSch98A=:"


def test_a_signed_post_verifies_with_the_library() -> None:
    request = _request("POST", "/v1/instance/check-ins", CHECK_IN_BODY)
    nonce = new_nonce()
    sign_request(request, KEY, nonce=nonce, created=1_767_225_600.7)
    (result,) = _verifier().verify(
        request,
        max_age=None,
        expect_tag="licensing/v1/call-home",
        require_components=("@method", "@path", "content-digest", "content-type"),
        body=CHECK_IN_BODY,
    )
    assert result.parameters == {
        "created": 1_767_225_600,
        "keyid": "_2VeT-FaaH_RjrT-cXOo1w",
        "alg": "hmac-sha256",
        "nonce": nonce,
        "tag": "licensing/v1/call-home",
    }
    assert list(result.covered_components)[:4] == [
        '"@method"',
        '"@path"',
        '"content-digest"',
        '"content-type"',
    ]
    digest = base64.b64encode(hashlib.sha256(CHECK_IN_BODY).digest()).decode()
    assert request.headers["Content-Digest"] == f"sha-256=:{digest}:"
    assert str(request.headers["Signature-Input"]).startswith(
        'sig1=("@method" "@path" "content-digest" "content-type");created=1767225600;'
    )


def test_an_empty_delete_carries_the_digest_of_nothing() -> None:
    request = _request(
        "DELETE", "/v1/instance/activations/6f1e2d3c-4b5a-4978-8a6b-5c4d3e2f1a0b", None
    )
    sign_request(request, KEY, nonce=new_nonce(), created=1_767_225_600)
    assert request.headers["Content-Digest"] == (
        "sha-256=:47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU=:"
    )
    assert "Content-Type" not in request.headers
    assert '"content-type"' not in request.headers["Signature-Input"]
    (result,) = _verifier().verify(
        request,
        max_age=None,
        expect_tag="licensing/v1/call-home",
        require_components=("@method", "@path", "content-digest"),
        body=b"",
    )
    assert result.body == b""


def test_a_changed_body_or_path_no_longer_verifies() -> None:
    request = _request("POST", "/v1/instance/check-ins", CHECK_IN_BODY)
    sign_request(request, KEY, nonce=new_nonce(), created=1_767_225_600)
    with pytest.raises(InvalidSignature):
        _verifier().verify(request, max_age=None, expect_tag="licensing/v1/call-home", body=b"{}")
    request.prepare_url(BASE_URL + "/v1/instance/activations", None)
    with pytest.raises(InvalidSignature):
        _verifier().verify(request, max_age=None, expect_tag="licensing/v1/call-home")


def test_nonces_are_16_random_bytes_in_base64url() -> None:
    nonces = {new_nonce() for _ in range(200)}
    assert len(nonces) == 200
    for nonce in nonces:
        assert len(nonce) == 22
        assert "=" not in nonce
        assert len(base64.urlsafe_b64decode(nonce + "==")) == 16


def test_the_client_signs_every_call_with_its_own_clock(harness: Harness) -> None:
    harness.activate()
    (seen,) = harness.server.seen
    assert seen.method == "POST"
    assert seen.path == "/v1/instance/activations"
    assert seen.created == int(harness.clock())
    assert seen.components == ("@method", "@path", "content-digest", "content-type")
    assert seen.headers["Content-Type"] == "application/json"
    assert seen.headers["Accept-Encoding"] == "identity"
    assert json.loads(seen.body) == {
        "product": "demo-mailserver",
        "fingerprint": harness.client.fingerprint,
        "server_name": "mail01.example.com",
        "product_version": "2.1.0",
    }


def test_a_base_url_prefix_is_part_of_the_signed_path() -> None:
    request = _request("POST", "/prefix/v1/instance/check-ins", CHECK_IN_BODY)
    sign_request(request, KEY, nonce=new_nonce(), created=1_767_225_600)
    (result,) = _verifier().verify(request, max_age=None, expect_tag="licensing/v1/call-home")
    assert result.covered_components['"@path"'] == "/prefix/v1/instance/check-ins"
