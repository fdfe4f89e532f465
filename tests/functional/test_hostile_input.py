"""Hostile bodies, headers and paths against every endpoint: a clear problem, never a 5xx.

One corpus, run against every endpoint (tests/functional/hostile.py): each answer is
checked for its status, for being a complete ``application/problem+json`` document, and
under ``/v1/instance/`` for a response signature that verifies and echoes the nonce.
Instance requests are signed correctly, so what is refused is the input, not the caller.
"""

from __future__ import annotations

import io
from urllib.parse import unquote

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, Product
from tests.functional.hostile import (
    BODY_TARGETS,
    BODYLESS_TARGETS,
    DEEP,
    HUGE_INTEGER,
    LIMIT,
    LONE_SURROGATE,
    NUL,
    NUMBER_MEMBERS,
    TARGETS,
    TEXT_MEMBERS,
    Caller,
    Reply,
    make_caller,
    with_member,
)
from tests.functional.instance_client import Instance
from tests.signing import json_body, sign

ALL_TARGETS = list(TARGETS)
# Endpoints whose method may carry a body: each body is checked, read or not.
SENDING_TARGETS = [name for name, target in TARGETS.items() if target.method != "GET"]
GET_TARGETS = [name for name, target in TARGETS.items() if target.method == "GET"]
INSTANCE_PATHS = ["/v1/instance/activations", "/v1/instance/check-ins"]
CHUNKED = {"Transfer-Encoding": "chunked"}
# What gunicorn (and Werkzeug's server) tell the application about a chunked body.
DECHUNKED = {"wsgi.input_terminated": True}


@pytest.fixture
def caller(
    client: FlaskClient, session: Session, sealer: Sealer, instance: Instance, product: Product
) -> Caller:
    return make_caller(client, session, sealer, instance, product)


def refused(reply: Reply, member: str) -> None:
    """A 422 whose errors name ``member`` (or a member under it)."""
    assert (reply.status, reply.code) == (422, "INVALID_REQUEST"), reply.body
    names = list(reply.errors)
    assert any(name == member or name.startswith(member + ".") for name in names), names
    for messages in reply.errors.values():
        assert messages
        assert all(isinstance(message, str) for message in messages)


# --- 1-4: JSON documents the server must not hand on -----------------------------------


@pytest.mark.parametrize("literal", [LONE_SURROGATE, NUL], ids=["lone-surrogate", "nul"])
@pytest.mark.parametrize(
    ("name", "member"),
    [(name, member) for name, members in TEXT_MEMBERS.items() for member in members],
)
def test_text_that_no_database_stores_is_refused(
    caller: Caller, name: str, member: str, literal: str
) -> None:
    target = TARGETS[name]
    body = with_member(caller.valid_body(target), member, literal)
    refused(caller.send(target, body), member)


@pytest.mark.parametrize(
    ("name", "member"),
    [(name, member) for name, members in NUMBER_MEMBERS.items() for member in members],
)
def test_an_integer_of_5000_digits_is_refused(caller: Caller, name: str, member: str) -> None:
    target = TARGETS[name]
    refused(
        caller.send(target, with_member(caller.valid_body(target), member, HUGE_INTEGER)), member
    )


@pytest.mark.parametrize("name", BODY_TARGETS)
def test_a_document_nested_1000_deep_is_refused(caller: Caller, name: str) -> None:
    refused(caller.send(TARGETS[name], DEEP.encode()), "0")


@pytest.mark.parametrize("name", BODY_TARGETS)
def test_a_member_nested_1000_deep_is_refused(caller: Caller, name: str) -> None:
    target = TARGETS[name]
    member = "usage" if target.audience == "instance" else "license_key"
    refused(caller.send(target, with_member(caller.valid_body(target), member, DEEP)), member)


@pytest.mark.parametrize("name", BODY_TARGETS)
@pytest.mark.parametrize(
    ("literal", "member"),
    [("NaN", "extra"), ("-Infinity", "extra"), ("1e999", "extra"), ("1", "\\ud800")],
    ids=["nan", "infinity", "overflowing-float", "surrogate-member-name"],
)
def test_other_literals_json_should_not_carry_are_refused(
    caller: Caller, name: str, literal: str, member: str
) -> None:
    target = TARGETS[name]
    body = with_member(caller.valid_body(target), "extra", literal)
    if member != "extra":
        body = body.replace(b'"extra"', f'"{member}"'.encode())
    refused(caller.send(target, body), member)


@pytest.mark.parametrize("name", BODY_TARGETS)
def test_a_body_that_is_not_utf8_is_refused(caller: Caller, name: str) -> None:
    refused(caller.send(TARGETS[name], b'{"server_name": "\xed\xa0\x80"}'), "_schema")


@pytest.mark.parametrize(
    "body",
    [DEEP.encode(), f'{{"a": {HUGE_INTEGER}}}'.encode(), f'{{"a": {NUL}}}'.encode()],
    ids=["deep", "huge-integer", "nul"],
)
@pytest.mark.parametrize("name", BODYLESS_TARGETS)
def test_an_endpoint_without_a_body_does_not_read_one(
    caller: Caller, name: str, body: bytes
) -> None:
    target = TARGETS[name]
    assert caller.send(target, body).status == target.plain_status


def test_nothing_refused_was_written(caller: Caller, session: Session) -> None:
    target = TARGETS["activate"]
    other = caller.instance.other()
    body = with_member(other.activation_body(), "server_name", NUL)
    refused(caller.send(target, body), "server_name")
    count = select(func.count()).select_from(Activation)
    assert session.scalar(count.where(Activation.fingerprint == other.fingerprint)) == 0


# --- 4: a NUL in a path parameter --------------------------------------------------------


@pytest.mark.parametrize(
    "code", ["%00", "mail%00probe", "%ED%A0%80"], ids=["nul", "nul-inside", "surrogate-bytes"]
)
def test_a_path_parameter_with_a_nul_is_refused(caller: Caller, code: str) -> None:
    reply = caller.send(TARGETS["releases"], path=f"/v1/partner/products/{code}/releases")
    if code == "%ED%A0%80":
        # Not UTF-8: Werkzeug reads it as U+FFFD, a product code that does not exist.
        assert (reply.status, reply.code) == (404, "NOT_FOUND"), reply.body
    else:
        refused(reply, "code")


# --- 5: a body in another content type ---------------------------------------------------


@pytest.mark.parametrize(
    ("content_type", "body"),
    [
        ("text/plain", b"server_name=mail01"),
        ("application/x-www-form-urlencoded", b"server_name=mail01&product_version=2.0.0"),
        (
            "multipart/form-data; boundary=x",
            b'--x\r\nContent-Disposition: form-data; name="a"\r\n\r\n1\r\n--x--\r\n',
        ),
        ("application/json; charset=utf-16", '{"a": 1}'.encode("utf-16")),
        (None, b'{"a": 1}'),
    ],
    ids=["text", "form", "multipart", "utf-16", "none"],
)
@pytest.mark.parametrize("name", SENDING_TARGETS)
def test_a_body_in_another_content_type_is_415(
    caller: Caller, name: str, content_type: str | None, body: bytes
) -> None:
    reply = caller.send(TARGETS[name], body, content_type=content_type)
    assert (reply.status, reply.code) == (415, "UNSUPPORTED_MEDIA_TYPE"), reply.body
    assert "application/json" in reply.body["detail"]


# --- 6: the size limit, sized or chunked -------------------------------------------------


@pytest.mark.parametrize("chunked", [False, True], ids=["sized", "chunked"])
@pytest.mark.parametrize("name", SENDING_TARGETS)
def test_a_body_over_the_limit_is_413(caller: Caller, name: str, chunked: bool) -> None:
    body = b'{"a": "' + b"x" * LIMIT + b'"}'
    reply = caller.send(
        TARGETS[name],
        body,
        headers=CHUNKED if chunked else None,
        environ=DECHUNKED if chunked else None,
    )
    assert (reply.status, reply.code) == (413, "REQUEST_ENTITY_TOO_LARGE"), reply.body


@pytest.mark.parametrize(
    ("content_type", "body", "headers"),
    [
        ("text/plain", b"x", {}),
        ("application/json", b"[" * (LIMIT + 1), {}),
        ("application/json", b"[" * (LIMIT + 1), CHUNKED),
    ],
    ids=["text", "sized-over-the-limit", "chunked-over-the-limit"],
)
@pytest.mark.parametrize("name", GET_TARGETS)
def test_a_get_body_is_never_read(
    caller: Caller, name: str, content_type: str, body: bytes, headers: dict[str, str]
) -> None:
    reply = caller.send(
        TARGETS[name], body, content_type=content_type, headers=headers, environ=DECHUNKED
    )
    assert reply.status == TARGETS[name].plain_status, reply.body


@pytest.mark.parametrize("name", BODY_TARGETS)
def test_a_chunked_body_within_the_limit_is_read_whole(caller: Caller, name: str) -> None:
    target = TARGETS[name]
    body = json_body(caller.valid_body(target))
    # The limit itself is within it: padding is whitespace, which JSON ignores.
    padded = body + b" " * (LIMIT - len(body))
    reply = caller.send(target, padded, headers=CHUNKED, environ=DECHUNKED)
    assert reply.status == 200, reply.body


def test_a_chunked_body_the_server_did_not_dechunk_is_411(caller: Caller) -> None:
    target = TARGETS["check-in"]
    reply = caller.send(target, json_body(caller.valid_body(target)), headers=CHUNKED)
    assert (reply.status, reply.code) == (411, "LENGTH_REQUIRED"), reply.body


# --- 7: methods, path oddities and redirects ---------------------------------------------


@pytest.mark.parametrize(
    "path", [*INSTANCE_PATHS, "/v1/instance/activations/00000000-0000-0000-0000-000000000007"]
)
def test_a_signed_options_is_a_signed_405(caller: Caller, path: str) -> None:
    reply = caller.send(TARGETS["check-in"], method="OPTIONS", path=path)
    assert (reply.status, reply.code) == (405, "METHOD_NOT_ALLOWED"), reply.body
    assert "OPTIONS" not in reply.headers["Allow"]


@pytest.mark.parametrize("name", ["license-check", "releases", "healthz", "jwks"])
def test_options_elsewhere_is_405(caller: Caller, name: str) -> None:
    reply = caller.send(TARGETS[name], method="OPTIONS")
    assert (reply.status, reply.code) == (405, "METHOD_NOT_ALLOWED"), reply.body


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("POST", "/v1/instance//check-ins"),
        ("POST", "/v1/instance//activations"),
        ("POST", "/v1/instance/check-ins/"),
        ("POST", "/v1/instance/./check-ins"),
        ("POST", "/v1/instance/../instance/check-ins"),
        ("POST", "/v1/instance/check-ins/."),
        ("DELETE", "/v1/instance/activations//00000000-0000-0000-0000-000000000007"),
        ("DELETE", "/v1/instance/activations/00000000-0000-0000-0000-000000000007/"),
        ("GET", "/v1/instance//"),
    ],
)
def test_an_odd_instance_path_is_a_signed_404(caller: Caller, method: str, path: str) -> None:
    target = TARGETS["check-in"]
    body = json_body(caller.valid_body(target)) if method == "POST" else b""
    reply = caller.send(target, body, method=method, path=path)
    assert (reply.status, reply.code) == (404, "NOT_FOUND"), reply.body


@pytest.mark.parametrize(
    ("name", "path"),
    [
        ("license-check", "/v1/partner//license-checks"),
        ("license-check", "/v1/partner/license-checks/"),
        ("healthz", "//healthz"),
        ("healthz", "/healthz/"),
    ],
)
def test_an_odd_path_elsewhere_is_a_404(caller: Caller, name: str, path: str) -> None:
    target = TARGETS[name]
    body = json_body(target.body(caller)) if target.body else b""
    reply = caller.send(target, body, path=path)
    assert (reply.status, reply.code) == (404, "NOT_FOUND"), reply.body


# Spellings the server would decode before routing; the raw request target decides.
SPELT_OTHERWISE = [
    "//v1/instance/check-ins",
    "///v1/instance/check-ins",
    "/v1/instance/%63heck-ins",
    "/v1/instance/check%2Dins",
    "/v1/instance/check%2dins?x=1",
    "/v1%2Finstance%2Fcheck-ins",
]


def raw_target(path: str) -> dict[str, str]:
    """The environ of a server that keeps the request target as sent (gunicorn does)."""
    return {"RAW_URI": path, "REQUEST_URI": path, "PATH_INFO": unquote(path.partition("?")[0])}


@pytest.mark.parametrize("path", SPELT_OTHERWISE)
def test_a_path_spelt_otherwise_is_a_signed_404(caller: Caller, path: str) -> None:
    target = TARGETS["check-in"]
    body = json_body(caller.valid_body(target))
    reply = caller.send(target, body, path=path, environ=raw_target(path))
    assert (reply.status, reply.code) == (404, "NOT_FOUND"), reply.body


@pytest.mark.parametrize("path", ["//healthz", "//docs", "/%64ocs", "/healthz%2F"])
def test_a_path_spelt_otherwise_elsewhere_is_a_404(client: FlaskClient, path: str) -> None:
    response = client.get("/", environ_overrides=raw_target(path))
    assert response.status_code == 404
    assert response.mimetype == "application/problem+json"
    assert "Location" not in response.headers


def test_the_raw_target_as_routed_is_served(caller: Caller) -> None:
    path = TARGETS["healthz"].path(caller) + "?probe=1"
    reply = caller.send(TARGETS["healthz"], path=path, environ=raw_target(path))
    assert reply.status == 200, reply.body


@pytest.mark.parametrize("path", ["/docs", "/docs?x=1"])
def test_a_redirect_never_echoes_the_host_header(client: FlaskClient, path: str) -> None:
    response = client.get(path, headers={"Host": "attacker.example"})
    assert response.status_code == 308
    location = response.headers["Location"]
    assert location.startswith("/docs/"), location
    assert "attacker" not in location


# --- Headers -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "headers",
    [
        {"Authorization": "Bearer lpk_\x00"},
        {"Authorization": "Bearer lpk_\xe9\xff"},
        {"Authorization": "Bearer " + "x" * 8000},
        {"Authorization": "Basic \x00\x01"},
    ],
    ids=["nul", "latin-1", "long", "basic"],
)
@pytest.mark.parametrize("name", ["license-check", "releases"])
def test_a_hostile_partner_key_is_401(caller: Caller, name: str, headers: dict[str, str]) -> None:
    target = TARGETS[name]
    body = json_body(target.body(caller)) if target.body else b""
    reply = caller.send(target, body, headers=headers)
    assert (reply.status, reply.code) == (401, "UNAUTHENTICATED"), reply.body


@pytest.mark.parametrize(
    ("header", "value", "code"),
    [
        ("Signature-Input", 'sig1=("@method");keyid="\x00"', "SIGNATURE_MALFORMED"),
        ("Signature-Input", "\x00" * 100, "SIGNATURE_MALFORMED"),
        ("Signature", "sig1=:\x00:", "SIGNATURE_MALFORMED"),
        ("Content-Digest", "sha-256=:\x00:", "DIGEST_MISMATCH"),
        ("Content-Digest", "sha-256=" + "9" * 5000, "DIGEST_MISMATCH"),
    ],
    ids=["nul-keyid", "nul-input", "nul-signature", "nul-digest", "huge-digest"],
)
@pytest.mark.parametrize("path", INSTANCE_PATHS)
def test_a_hostile_signature_header_is_401(
    caller: Caller, path: str, header: str, value: str, code: str
) -> None:
    target = TARGETS["check-in"]
    body = json_body(caller.valid_body(target))
    signed = sign(caller.instance.credentials, "POST", path, body)
    response = caller.client.post(path, data=body, headers={**signed.headers, header: value})
    assert response.status_code == 401, response.get_data()
    assert response.mimetype == "application/problem+json"
    assert response.json is not None
    assert response.json["code"] == code
    assert "Signature" in response.headers  # signed, like every instance answer


@pytest.mark.parametrize("name", ALL_TARGETS)
def test_a_hostile_request_id_is_replaced(caller: Caller, name: str) -> None:
    reply = caller.send(TARGETS[name], headers={"X-Request-Id": "abcdefgh\x00\xff"})
    assert reply.status == TARGETS[name].plain_status, reply.body
    assert "\x00" not in reply.headers["X-Request-Id"]


def test_an_input_stream_is_never_read_past_the_limit(caller: Caller) -> None:
    """A chunked body far over the limit: the server stops one byte past it."""

    class Endless(io.RawIOBase):
        served = 0

        def readable(self) -> bool:
            return True

        def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
            buffer[:] = b" " * len(buffer)
            self.served += len(buffer)
            return len(buffer)

    stream = Endless()
    reply = caller.send(
        TARGETS["check-in"],
        b"",
        headers=CHUNKED,
        environ={**DECHUNKED, "wsgi.input": stream},
    )
    assert reply.status == 413, reply.body
    assert stream.served <= LIMIT + 1
