"""A third-party client against a real ``licensing serve`` (gunicorn, 2 workers).

Only ``requests``, ``http-message-signatures`` and PyJWT talk to the server here
(through :mod:`tests.signing` and :func:`tests.live.call`): no test client, no code of
the server. What passes here passes for a client written from PROTOCOL.md alone.
"""

from __future__ import annotations

import http.client
import secrets
import uuid
from collections.abc import Iterator
from typing import Any
from urllib.parse import urlsplit

import jwt
import pytest
import requests

from tests.live import ISSUER, LiveAnswer, LiveServer, call, live_server, send_signed
from tests.signing import Credentials, json_body, sign, verify_lease, verify_response

ACTIVATIONS = "/v1/instance/activations"
CHECK_INS = "/v1/instance/check-ins"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("live"), workers=2) as running:
        yield running


@pytest.fixture(scope="module")
def license(server: LiveServer) -> dict[str, Any]:
    return server.licenses[0]


@pytest.fixture(scope="module")
def credentials(license: dict[str, Any]) -> Credentials:
    return Credentials.from_license_key(license["license_key"])


@pytest.fixture(scope="module")
def jwks(server: LiveServer) -> dict[str, Any]:
    return server.jwks()


def activation_body(license: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    return {
        "product": license["product"],
        "fingerprint": fingerprint,
        "server_name": "mail01.example.com",
        "product_version": "2.1.0",
        "usage": {"mailboxes": 5},
    }


def fingerprint() -> str:
    return "fp-" + secrets.token_hex(16)


def test_the_key_id_derived_from_the_key_is_the_servers(
    license: dict[str, Any], credentials: Credentials
) -> None:
    assert credentials.key_id == license["key_id"]


def test_activate_check_in_and_deactivate(
    server: LiveServer, license: dict[str, Any], credentials: Credentials, jwks: dict[str, Any]
) -> None:
    mine = fingerprint()
    activated = call(
        server, credentials, "POST", ACTIVATIONS, activation_body(license, mine), jwks=jwks
    )
    assert (activated.status, activated.code) == (201, "VALID")
    activation_id = activated.body["activation"]["id"]

    claims = verify_lease(
        activated.body["lease"], jwks, product=license["product"], issuer=ISSUER, fingerprint=mine
    )
    assert (claims["sub"], claims["act"]) == (license["id"], activation_id)
    assert claims["ent"] == activated.body["license"]["entitlements"] == ["smtp", "imap", "webmail"]
    assert claims["upg"] == activated.body["license"]["upgrade_protection_until"]
    assert jwt.get_unverified_header(activated.body["lease"])["kid"] in {
        key["kid"] for key in jwks["keys"]
    }

    report = {"fingerprint": mine, "server_name": "mail01.example.com", "product_version": "2.1.0"}
    checked = call(server, credentials, "POST", CHECK_INS, report, jwks=jwks)
    assert (checked.status, checked.code) == (200, "VALID")
    verify_lease(
        checked.body["lease"], jwks, product=license["product"], issuer=ISSUER, fingerprint=mine
    )

    path = f"{ACTIVATIONS}/{activation_id}"
    released = call(server, credentials, "DELETE", path, jwks=jwks)
    assert (released.status, released.code) == (200, "DEACTIVATED")
    again = call(server, credentials, "DELETE", path, jwks=jwks)
    assert (again.status, again.code) == (404, "NOT_ACTIVATED")


def rejected(answer: LiveAnswer, code: str) -> None:
    assert (answer.status, answer.code) == (401, code), answer.body
    assert answer.body["nonce"] == answer.request.nonce  # signed, and answers our request


def test_a_tampered_body_is_rejected(
    server: LiveServer, license: dict[str, Any], credentials: Credentials, jwks: dict[str, Any]
) -> None:
    body = activation_body(license, fingerprint())
    tampered = json_body(activation_body(license, fingerprint()))
    answer = call(server, credentials, "POST", ACTIVATIONS, body, jwks=jwks, send_body=tampered)
    rejected(answer, "SIGNATURE_INVALID")


def test_a_tampered_path_is_rejected(
    server: LiveServer, credentials: Credentials, jwks: dict[str, Any]
) -> None:
    signed_for = f"{ACTIVATIONS}/{uuid.uuid4()}"
    sent_to = f"{ACTIVATIONS}/{uuid.uuid4()}"
    answer = call(server, credentials, "DELETE", signed_for, jwks=jwks, send_path=sent_to)
    rejected(answer, "SIGNATURE_INVALID")


def test_the_wrong_key_is_rejected(
    server: LiveServer, license: dict[str, Any], credentials: Credentials, jwks: dict[str, Any]
) -> None:
    body = activation_body(license, fingerprint())
    wrong_secret = call(
        server, credentials, "POST", ACTIVATIONS, body, jwks=jwks, secret=secrets.token_bytes(32)
    )
    rejected(wrong_secret, "SIGNATURE_INVALID")
    unknown = call(server, credentials, "POST", ACTIVATIONS, body, jwks=jwks, key_id="A" * 22)
    rejected(unknown, "UNKNOWN_KEY")


@pytest.mark.parametrize("offset", [-3600, 3600])
def test_a_stale_signature_is_rejected(
    server: LiveServer,
    license: dict[str, Any],
    credentials: Credentials,
    jwks: dict[str, Any],
    offset: int,
) -> None:
    body = activation_body(license, fingerprint())
    answer = call(server, credentials, "POST", ACTIVATIONS, body, jwks=jwks, created_offset=offset)
    rejected(answer, "SIGNATURE_STALE")


def test_a_missing_digest_is_rejected(
    server: LiveServer, license: dict[str, Any], credentials: Credentials, jwks: dict[str, Any]
) -> None:
    body = activation_body(license, fingerprint())
    answer = call(server, credentials, "POST", ACTIVATIONS, body, jwks=jwks, omit_digest=True)
    rejected(answer, "DIGEST_MISMATCH")


def test_a_replayed_request_is_rejected(
    server: LiveServer, license: dict[str, Any], credentials: Credentials, jwks: dict[str, Any]
) -> None:
    report = {
        "fingerprint": fingerprint(),
        "server_name": "mail01.example.com",
        "product_version": "2.1.0",
    }
    first = call(server, credentials, "POST", CHECK_INS, report, jwks=jwks)
    assert (first.status, first.code) == (404, "NOT_ACTIVATED")  # past the signature table

    # The same bytes again, on whichever worker takes them.
    replays = [send_signed(server, first.request, jwks) for _ in range(3)]

    for replay in replays:
        rejected(replay, "NONCE_REPLAYED")


def test_an_unknown_instance_path_is_a_signed_404(
    server: LiveServer, credentials: Credentials, jwks: dict[str, Any]
) -> None:
    answer = call(server, credentials, "POST", "/v1/instance/nowhere", {}, jwks=jwks)
    assert (answer.status, answer.code) == (404, "NOT_FOUND")
    assert answer.body["nonce"] == answer.request.nonce


def test_the_jwks_lists_ed25519_signing_keys(jwks: dict[str, Any]) -> None:
    assert jwks["keys"]
    for key in jwks["keys"]:
        assert (key["kty"], key["crv"], key["use"], key["alg"]) == (
            "OKP",
            "Ed25519",
            "sig",
            "EdDSA",
        )
        assert len(key["kid"]) == 43


def send_chunked(
    server: LiveServer, credentials: Credentials, path: str, body: bytes, jwks: dict[str, Any]
) -> LiveAnswer:
    """A signed POST whose body goes out chunked (requests does so for an iterator)."""
    signed = sign(credentials, "POST", path, body, base_url=server.base_url)
    pieces = iter([body[i : i + 4096] for i in range(0, len(body), 4096)])
    response = requests.post(
        server.base_url + path, data=pieces, headers=signed.headers, timeout=30
    )
    assert response.request.headers.get("Transfer-Encoding") == "chunked"
    verified = verify_response(
        response.status_code,
        list(response.headers.items()),
        response.content,
        jwks,
        nonce=signed.nonce,
    )
    return LiveAnswer(response.status_code, verified.body, signed)


def test_a_chunked_body_is_read_whole_and_bounded_like_a_sized_one(
    server: LiveServer, license: dict[str, Any], credentials: Credentials, jwks: dict[str, Any]
) -> None:
    body = json_body(activation_body(license, fingerprint()))
    accepted = send_chunked(server, credentials, ACTIVATIONS, body, jwks)
    assert accepted.status == 201, accepted.body

    oversized = body[:-1] + b', "padding": "' + b"x" * (64 * 1024) + b'"}'
    refused = send_chunked(server, credentials, ACTIVATIONS, oversized, jwks)
    assert (refused.status, refused.code) == (413, "REQUEST_ENTITY_TOO_LARGE"), refused.body


@pytest.mark.parametrize(
    ("method", "path", "status"),
    [
        ("OPTIONS", CHECK_INS, 405),
        ("POST", "/v1/instance//check-ins", 404),
        ("POST", CHECK_INS + "/", 404),
    ],
)
# (Dot segments are tested in-process: requests removes them before sending.)
def test_odd_methods_and_paths_are_signed_problems(
    server: LiveServer,
    credentials: Credentials,
    jwks: dict[str, Any],
    method: str,
    path: str,
    status: int,
) -> None:
    answer = call(server, credentials, method, path, {} if method == "POST" else None, jwks=jwks)
    assert answer.status == status, answer.body
    assert answer.body["nonce"] == answer.request.nonce


def send_raw(
    server: LiveServer, credentials: Credentials, target: str, body: bytes, jwks: dict[str, Any]
) -> LiveAnswer:
    """A signed POST with the request target exactly as given (``requests`` would tidy it)."""
    signed = sign(credentials, "POST", target, body, base_url=server.base_url)
    host, port = urlsplit(server.base_url).netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("POST", target, body=body, headers=signed.headers)
        response = connection.getresponse()
        content = response.read()
    finally:
        connection.close()
    verified = verify_response(
        response.status, list(response.getheaders()), content, jwks, nonce=signed.nonce
    )
    return LiveAnswer(response.status, verified.body, signed)


def test_a_check_in_path_spelt_otherwise_is_a_signed_404(
    server: LiveServer, license: dict[str, Any], credentials: Credentials, jwks: dict[str, Any]
) -> None:
    mine = fingerprint()
    activated = call(
        server, credentials, "POST", ACTIVATIONS, activation_body(license, mine), jwks=jwks
    )
    assert activated.status == 201, activated.body
    report = json_body(
        {"fingerprint": mine, "server_name": "mail01.example.com", "product_version": "2.1.0"}
    )
    served = send_raw(server, credentials, CHECK_INS, report, jwks)
    assert (served.status, served.code) == (200, "VALID"), served.body
    for target in (
        "//v1/instance/check-ins",
        "///v1/instance/check-ins",
        "/v1/instance/%63heck-ins",
        "/v1/instance/check%2Dins",
        "/v1%2Finstance%2Fcheck-ins",
    ):
        answer = send_raw(server, credentials, target, report, jwks)
        assert (answer.status, answer.code) == (404, "NOT_FOUND"), (target, answer.body)
        assert answer.body["nonce"] == answer.request.nonce


@pytest.mark.parametrize("target", ["//healthz", "//docs", "/%68ealthz"])
def test_a_path_spelt_otherwise_elsewhere_is_a_404(server: LiveServer, target: str) -> None:
    host, port = urlsplit(server.base_url).netloc.rsplit(":", 1)
    connection = http.client.HTTPConnection(host, int(port), timeout=30)
    try:
        connection.request("GET", target)
        response = connection.getresponse()
        response.read()
    finally:
        connection.close()
    assert response.status == 404
    assert response.getheader("Content-Type") == "application/problem+json"
    assert response.getheader("Location") is None
