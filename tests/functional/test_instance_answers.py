"""Signed answers (PROTOCOL.md §3): every answer under /v1/instance/, whatever its status.

``Instance.deliver`` already verifies every answer of every instance test; here each
status is produced on purpose and the signature's details are checked once more.
"""

from __future__ import annotations

from collections.abc import Callable

import jwt
import pytest
from flask.testing import FlaskClient
from http_message_signatures import InvalidSignature
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.services import server_keys
from tests.functional.instance_client import Answer, Instance
from tests.signing import json_body, verify_response


def _valid_check_in(i: Instance) -> Answer:
    i.activate()
    return i.check_in()


def _too_many(i: Instance) -> Answer:
    i.activate()
    i.other().activate()  # the migration seat
    return i.other().activate()


ANSWERS: dict[str, tuple[Callable[[Instance], Answer], int, str]] = {
    "activated": (lambda i: i.activate(), 201, "VALID"),
    "checked-in": (_valid_check_in, 200, "VALID"),
    "deactivated": (
        lambda i: i.deactivate(i.activate().body["activation"]["id"]),
        200,
        "DEACTIVATED",
    ),
    "signature-rejected": (
        lambda i: i.activate(sign_options={"secret": b"\x00" * 32}),
        401,
        "SIGNATURE_INVALID",
    ),
    "refused": (lambda i: i.activate(product="another-product"), 403, "PRODUCT_MISMATCH"),
    "too-many": (_too_many, 403, "TOO_MANY_ACTIVATIONS"),
    "not-activated": (lambda i: i.check_in(), 404, "NOT_ACTIVATED"),
    "unknown-path": (lambda i: i.send("POST", "/v1/instance/nowhere", {}), 404, "NOT_FOUND"),
    "not-a-uuid": (lambda i: i.send("DELETE", "/v1/instance/activations/42"), 404, "NOT_FOUND"),
    "wrong-method": (
        lambda i: i.send("GET", "/v1/instance/activations"),
        405,
        "METHOD_NOT_ALLOWED",
    ),
    "invalid": (lambda i: i.activate(colour="blue"), 422, "INVALID_REQUEST"),
}


@pytest.mark.parametrize("case", ANSWERS)
def test_every_answer_is_signed_and_echoes_the_nonce(
    instance: Instance, server_key: str, case: str
) -> None:
    produce, status, code = ANSWERS[case]
    answer = produce(instance)  # verified on delivery: signature, digest, nonce, time
    assert (answer.status, answer.code) == (status, code), answer.body
    assert answer.nonce is not None
    assert answer.body["nonce"] == answer.nonce
    assert "Signature" in answer.headers
    assert 'tag="licensing/v1/response"' in answer.headers["Signature-Input"]
    assert f'keyid="{server_key}"' in answer.headers["Signature-Input"]


def test_an_unsigned_request_gets_a_signed_answer_without_a_nonce(instance: Instance) -> None:
    signed = instance.signed("POST", "/v1/instance/activations", instance.activation_body())
    answer = instance.deliver(
        signed, headers={"Content-Type": "application/json"}, expect_nonce=None
    )
    assert (answer.status, answer.code) == (401, "SIGNATURE_MISSING")


def test_an_unknown_path_unsigned_is_still_signed(instance: Instance, client: FlaskClient) -> None:
    response = client.get("/v1/instance/nowhere")
    verified = verify_response(
        response.status_code,
        list(response.headers.items()),
        response.get_data(),
        instance.jwks(),
        nonce=None,
    )
    assert (verified.status, verified.body["code"]) == (404, "NOT_FOUND")


def test_the_signature_covers_status_and_digest(instance: Instance, client: FlaskClient) -> None:
    signed = instance.signed("POST", "/v1/instance/activations", instance.activation_body())
    response = client.post(signed.path, data=signed.body, headers=signed.headers)
    pairs = list(response.headers.items())
    verified = verify_response(201, pairs, response.get_data(), instance.jwks(), nonce=signed.nonce)
    assert {'"@status"', '"content-digest"'} <= set(verified.covered)

    # A captured answer replayed as another status, body or request does not pass.
    with pytest.raises(InvalidSignature):
        verify_response(200, pairs, response.get_data(), instance.jwks(), nonce=signed.nonce)
    with pytest.raises(InvalidSignature, match="Content-Digest"):
        tampered = json_body({**response.json, "valid": False})  # type: ignore[dict-item]
        verify_response(201, pairs, tampered, instance.jwks(), nonce=signed.nonce)
    with pytest.raises(AssertionError):
        verify_response(
            201, pairs, response.get_data(), instance.jwks(), nonce="another-nonce-0123"
        )


def test_other_paths_are_not_signed(client: FlaskClient) -> None:
    for path in ("/healthz", "/no/such/page", "/.well-known/jwks.json"):
        response = client.get(path)
        assert "Signature" not in response.headers, path
        assert "Signature-Input" not in response.headers, path


def test_after_a_rotation_the_new_key_signs_and_both_are_published(
    instance: Instance, server_key: str, session: Session, sealer: Sealer, actor: str
) -> None:
    new = server_keys.rotate(session, sealer, actor=actor).kid
    session.flush()
    instance.refresh_jwks()  # as a client meeting an unknown kid does
    kids = {key["kid"] for key in instance.jwks()["keys"]}
    assert {server_key, new} <= kids
    for key in instance.jwks()["keys"]:
        assert (key["kty"], key["crv"], key["use"], key["alg"]) == (
            "OKP",
            "Ed25519",
            "sig",
            "EdDSA",
        )

    answer = instance.activate()

    assert f'keyid="{new}"' in answer.headers["Signature-Input"]
    assert jwt.get_unverified_header(answer.body["lease"])["kid"] == new
    assert answer.status == 201
