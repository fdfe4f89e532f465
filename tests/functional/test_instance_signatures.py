"""Signed requests (PROTOCOL.md §2): every rejection code, in the contract's order.

Each rejection is a signed 401 problem with its own ``code``; a request rejected by the
table uses up nothing, a request that passed it uses up its nonce whatever follows.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.models import Activation, UsageObservation
from tests.functional.conftest import MakeLicensed
from tests.functional.instance_client import Answer, Instance, new_fingerprint, rfc3339
from tests.signing import CALL_HOME_TAG, SignedRequest, content_digest, json_body, new_nonce

ACTIVATIONS = "/v1/instance/activations"
UNKNOWN_KEY_ID = "AAAAAAAAAAAAAAAAAAAAAA"


def at(seconds: int) -> str | None:
    return rfc3339(datetime.fromtimestamp(seconds, UTC))


def rejected(answer: Answer, code: str) -> None:
    assert (answer.status, answer.code) == (401, code), answer.body


def activations(session: Session, instance: Instance) -> int:
    return (
        session.scalar(
            select(func.count())
            .select_from(Activation)
            .where(Activation.license_id == instance.licensed.license.id)
        )
        or 0
    )


def activation(instance: Instance, **options: Any) -> SignedRequest:
    return instance.signed("POST", ACTIVATIONS, instance.activation_body(), **options)


def edit_input(request: SignedRequest, pattern: str, replacement: str) -> dict[str, str]:
    """Headers with ``Signature-Input`` rewritten (a parameter removed or changed)."""
    headers = dict(request.headers)
    edited = re.sub(pattern, replacement, headers["Signature-Input"])
    assert edited != headers["Signature-Input"]
    headers["Signature-Input"] = edited
    return headers


def test_a_correctly_signed_request_is_accepted(instance: Instance) -> None:
    answer = instance.deliver(activation(instance))
    assert (answer.status, answer.code) == (201, "VALID")


# --- SIGNATURE_MISSING -----------------------------------------------------------------------


def test_no_signature_headers_is_missing(instance: Instance) -> None:
    request = activation(instance)
    answer = instance.deliver(
        request, headers={"Content-Type": "application/json"}, expect_nonce=None
    )
    rejected(answer, "SIGNATURE_MISSING")


def test_signature_input_without_signature_is_missing(instance: Instance) -> None:
    request = activation(instance)
    headers = {k: v for k, v in request.headers.items() if k != "Signature"}
    rejected(instance.deliver(request, headers=headers), "SIGNATURE_MISSING")


def test_a_signature_without_the_call_home_tag_is_missing(instance: Instance) -> None:
    request = activation(instance, tag="someone-else/v1")
    rejected(instance.deliver(request, expect_nonce=None), "SIGNATURE_MISSING")


# --- SIGNATURE_MALFORMED ---------------------------------------------------------------------


def test_an_unparsable_signature_input_is_malformed(instance: Instance) -> None:
    request = activation(instance)
    headers = dict(request.headers, **{"Signature-Input": 'sig1=("@method" "@path"'})
    answer = instance.deliver(request, headers=headers, expect_nonce=None)
    rejected(answer, "SIGNATURE_MALFORMED")


@pytest.mark.parametrize("value", ["sig1=:not base64!:", "sig1=abc", "sig2=:AAAA:"])
def test_a_signature_that_is_not_the_labels_byte_sequence_is_malformed(
    instance: Instance, value: str
) -> None:
    request = activation(instance)
    headers = dict(request.headers, Signature=value)
    rejected(instance.deliver(request, headers=headers), "SIGNATURE_MALFORMED")


@pytest.mark.parametrize("left_out", ["@method", "@path", "content-digest"])
def test_a_required_component_left_out_is_malformed(instance: Instance, left_out: str) -> None:
    components = [c for c in ("@method", "@path", "content-digest") if c != left_out]
    answer = instance.deliver(activation(instance, components=components))
    rejected(answer, "SIGNATURE_MALFORMED")
    assert f'"{left_out}"' in answer.body["detail"]


@pytest.mark.parametrize(
    "nonce",
    [
        "x" * 15,  # too short
        "x" * 129,  # too long
        "plus+and/slash+nonce",  # not the base64url alphabet
        "paddedNonceValue16==",  # padding
    ],
)
def test_a_bad_nonce_is_malformed(instance: Instance, nonce: str) -> None:
    answer = instance.deliver(activation(instance, nonce=nonce), expect_nonce=None)
    rejected(answer, "SIGNATURE_MALFORMED")


def test_a_missing_nonce_is_malformed(instance: Instance) -> None:
    answer = instance.deliver(activation(instance, omit_nonce=True))
    rejected(answer, "SIGNATURE_MALFORMED")


@pytest.mark.parametrize(
    ("pattern", "replacement"),
    [
        (r";created=\d+", ""),  # missing
        (r";created=(\d+)", r';created="\1"'),  # a string, not an integer
        (r';keyid="[^"]*"', ""),  # missing
        (r";tag=", ";color=1;tag="),  # an unknown parameter
    ],
    ids=["no-created", "string-created", "no-keyid", "unknown-parameter"],
)
def test_a_missing_or_mistyped_parameter_is_malformed(
    instance: Instance, pattern: str, replacement: str
) -> None:
    request = activation(instance)
    answer = instance.deliver(request, headers=edit_input(request, pattern, replacement))
    rejected(answer, "SIGNATURE_MALFORMED")


def test_an_alg_other_than_hmac_sha256_is_malformed(instance: Instance) -> None:
    # The HMAC itself is a correct hmac-sha256 over its base: only the parameter is wrong.
    answer = instance.deliver(activation(instance, alg="hmac-sha512"))
    rejected(answer, "SIGNATURE_MALFORMED")
    assert "alg" in answer.body["detail"]


def test_alg_may_be_left_out(instance: Instance) -> None:
    assert instance.deliver(activation(instance, alg=None)).status == 201


def test_two_signatures_with_the_call_home_tag_are_malformed(instance: Instance) -> None:
    request = activation(instance, extra_signatures=[("sig2", CALL_HOME_TAG)])
    assert request.headers["Signature-Input"].count(CALL_HOME_TAG) == 2
    rejected(instance.deliver(request), "SIGNATURE_MALFORMED")


def test_a_signature_with_another_tag_is_ignored(instance: Instance) -> None:
    request = activation(instance, extra_signatures=[("proxy", "example.com/edge")])
    assert "proxy=" in request.headers["Signature-Input"]
    assert instance.deliver(request).status == 201


@pytest.mark.parametrize(
    ("extra_input", "extra_signature"),
    [
        (', proxy=("@method");created=1;keyid="edge"', ""),  # no Signature member
        ("", ", proxy=token"),  # a Signature member that is not a byte sequence
        (', proxy=("@method");created="yesterday"', ", proxy=:AAAA:"),  # mistyped created
    ],
    ids=["no-signature", "not-bytes", "string-created"],
)
def test_a_malformed_signature_with_another_tag_is_ignored_too(
    instance: Instance, extra_input: str, extra_signature: str
) -> None:
    request = activation(instance)
    headers = dict(request.headers)
    headers["Signature-Input"] += extra_input
    headers["Signature"] += extra_signature
    assert instance.deliver(request, headers=headers).status == 201


@pytest.mark.parametrize("field", ["Signature", "Signature-Input"])
def test_a_label_given_twice_is_invalid_even_if_the_last_one_verifies(
    instance: Instance, field: str
) -> None:
    # RFC 8941 lets the last member win; the verification library refuses the repetition.
    request = activation(instance)
    headers = dict(request.headers)
    label, member = headers[field].split("=", 1)
    decoy = ":AAAA:" if field == "Signature" else member.replace("created=", "created=1")
    headers[field] = f"{label}={decoy}, {label}={member}"
    rejected(instance.deliver(request, headers=headers), "SIGNATURE_INVALID")


def test_a_query_not_covered_by_the_signature_is_malformed(instance: Instance) -> None:
    request = instance.signed("POST", ACTIVATIONS + "?debug=1", instance.activation_body())
    answer = instance.deliver(request)
    rejected(answer, "SIGNATURE_MALFORMED")
    assert '"@query"' in answer.body["detail"]


def test_a_query_covered_by_the_signature_is_accepted(instance: Instance) -> None:
    request = instance.signed(
        "POST",
        ACTIVATIONS + "?debug=1",
        instance.activation_body(),
        components=("@method", "@path", "@query", "content-digest"),
    )
    assert instance.deliver(request).status == 201


def test_more_covered_components_are_verified_too(instance: Instance) -> None:
    components = ("@method", "@authority", "@path", "content-type", "content-digest")
    request = activation(instance, components=components)
    assert instance.deliver(request).status == 201

    other = activation(instance, components=components)
    headers = dict(other.headers, **{"Content-Type": "application/json; charset=utf-8"})
    rejected(instance.deliver(other, headers=headers), "SIGNATURE_INVALID")


# --- DIGEST_MISMATCH -------------------------------------------------------------------------


def test_an_absent_digest_is_a_mismatch(instance: Instance) -> None:
    request = activation(instance, omit_digest=True)
    assert "Content-Digest" not in request.headers
    rejected(instance.deliver(request), "DIGEST_MISMATCH")


def test_an_empty_body_needs_a_digest_too(instance: Instance) -> None:
    request = instance.signed(
        "DELETE", f"{ACTIVATIONS}/00000000-0000-4000-8000-000000000000", omit_digest=True
    )
    rejected(instance.deliver(request), "DIGEST_MISMATCH")


@pytest.mark.parametrize(
    "digest",
    [
        lambda body: content_digest(body, "sha-512"),  # no sha-256
        lambda body: content_digest(b"another body"),  # the wrong sha-256
        lambda body: content_digest(body) + ", " + content_digest(b"x", "sha-512"),
    ],
    ids=["sha-512-only", "wrong-sha-256", "wrong-sha-512-beside"],
)
def test_a_digest_that_is_not_the_bodys_is_a_mismatch(
    instance: Instance, digest: Callable[[bytes], str]
) -> None:
    body = json_body(instance.activation_body())
    request = instance.signed("POST", ACTIVATIONS, body, digest=digest(body))
    rejected(instance.deliver(request), "DIGEST_MISMATCH")


def test_a_right_sha_512_beside_sha_256_is_accepted(instance: Instance) -> None:
    body = json_body(instance.activation_body())
    both = content_digest(body) + ", " + content_digest(body, "sha-512")
    assert instance.deliver(instance.signed("POST", ACTIVATIONS, body, digest=both)).status == 201


def test_a_body_changed_in_transit_is_a_digest_mismatch(instance: Instance) -> None:
    request = activation(instance)
    other = json_body(instance.activation_body(fingerprint=new_fingerprint()))
    rejected(instance.deliver(request, body=other), "DIGEST_MISMATCH")


# --- UNKNOWN_KEY, SIGNATURE_INVALID ----------------------------------------------------------


def test_a_key_id_of_no_license_is_unknown(instance: Instance) -> None:
    rejected(instance.deliver(activation(instance, key_id=UNKNOWN_KEY_ID)), "UNKNOWN_KEY")


def test_the_wrong_secret_is_invalid(instance: Instance, session: Session) -> None:
    answer = instance.deliver(activation(instance, secret=b"\x00" * 32))
    rejected(answer, "SIGNATURE_INVALID")
    assert activations(session, instance) == 0


def test_another_licenses_secret_is_invalid(
    instance: Instance, make_licensed: MakeLicensed
) -> None:
    other = make_licensed()
    request = activation(instance, secret=other.credentials.secret)
    rejected(instance.deliver(request), "SIGNATURE_INVALID")


def test_a_tampered_body_with_a_recomputed_digest_is_invalid(
    instance: Instance, session: Session
) -> None:
    request = activation(instance)
    tampered = json_body(instance.activation_body(fingerprint=new_fingerprint()))
    headers = dict(request.headers, **{"Content-Digest": content_digest(tampered)})
    answer = instance.deliver(request, headers=headers, body=tampered)
    rejected(answer, "SIGNATURE_INVALID")
    assert activations(session, instance) == 0


def test_a_tampered_path_is_invalid(instance: Instance) -> None:
    request = instance.signed("POST", "/v1/instance/check-ins", instance.activation_body())
    rejected(instance.deliver(request, path=ACTIVATIONS), "SIGNATURE_INVALID")


def test_a_tampered_method_is_invalid(instance: Instance) -> None:
    request = instance.signed("PUT", ACTIVATIONS, instance.activation_body())
    tampered = SignedRequest(
        method="POST",
        path=request.path,
        body=request.body,
        headers=request.headers,
        nonce=request.nonce,
        created=request.created,
    )
    rejected(instance.deliver(tampered), "SIGNATURE_INVALID")


# --- SIGNATURE_STALE -------------------------------------------------------------------------


@pytest.mark.parametrize("offset", [-301, 301, 200 * 365 * 86_400, -(10**10)])
def test_created_beyond_the_window_is_stale(
    instance: Instance, frozen_now: int, offset: int
) -> None:
    answer = instance.deliver(activation(instance, created=frozen_now + offset))
    rejected(answer, "SIGNATURE_STALE")
    assert answer.body["server_time"] == at(frozen_now)  # the clock really stood still


@pytest.mark.parametrize("offset", [-300, 300])
def test_created_on_the_window_edge_is_accepted(
    instance: Instance, frozen_now: int, offset: int
) -> None:
    answer = instance.deliver(activation(instance, created=frozen_now + offset))
    assert answer.status == 201
    assert answer.body["server_time"] == at(frozen_now)  # the clock really stood still


def test_an_expires_that_has_passed_is_stale(instance: Instance, frozen_now: int) -> None:
    request = activation(instance, created=frozen_now - 10, expires=frozen_now - 1)
    rejected(instance.deliver(request), "SIGNATURE_STALE")


def test_an_expires_in_the_future_is_accepted(instance: Instance, frozen_now: int) -> None:
    request = activation(instance, created=frozen_now, expires=frozen_now + 30)
    assert instance.deliver(request).status == 201


# --- NONCE_REPLAYED and what uses a nonce up -------------------------------------------------


def test_the_same_request_twice_is_replayed(instance: Instance, session: Session) -> None:
    request = activation(instance)
    assert instance.deliver(request).status == 201
    rejected(instance.deliver(request), "NONCE_REPLAYED")
    assert activations(session, instance) == 1


def test_the_same_check_in_twice_is_replayed_and_counted_once(
    instance: Instance, session: Session
) -> None:
    assert instance.activate().status == 201
    nonce = new_nonce()
    assert instance.check_in(sign_options={"nonce": nonce}).status == 200
    rejected(instance.check_in(sign_options={"nonce": nonce}), "NONCE_REPLAYED")
    counted = session.scalar(select(func.sum(UsageObservation.count)))
    assert counted == 2  # the activation's own observation and ONE check-in


def test_an_invalid_check_in_uses_up_its_nonce(instance: Instance) -> None:
    assert instance.activate().status == 201
    nonce = new_nonce()
    invalid = instance.check_in(sign_options={"nonce": nonce}, colour="blue")
    assert (invalid.status, invalid.code) == (422, "INVALID_REQUEST")
    rejected(instance.check_in(sign_options={"nonce": nonce}), "NONCE_REPLAYED")
    rejected(instance.check_in(sign_options={"nonce": nonce}, colour="blue"), "NONCE_REPLAYED")


def test_a_used_nonce_is_replayed_on_another_endpoint(instance: Instance) -> None:
    nonce = new_nonce()
    assert instance.activate(sign_options={"nonce": nonce}).status == 201
    rejected(instance.check_in(sign_options={"nonce": nonce}), "NONCE_REPLAYED")


def test_a_nonce_is_per_key(instance: Instance, make_licensed: MakeLicensed) -> None:
    nonce = new_nonce()
    other = instance.other(licensed=make_licensed())
    assert instance.activate(sign_options={"nonce": nonce}).status == 201
    assert other.activate(sign_options={"nonce": nonce}).status == 201


REJECTIONS: dict[str, tuple[dict[str, Any], str]] = {
    "stale-past": ({"created_offset": -301}, "SIGNATURE_STALE"),
    "stale-future": ({"created_offset": 400}, "SIGNATURE_STALE"),
    "wrong-secret": ({"secret": b"\x01" * 32}, "SIGNATURE_INVALID"),
    "no-digest": ({"omit_digest": True}, "DIGEST_MISMATCH"),
    "unknown-key": ({"key_id": UNKNOWN_KEY_ID}, "UNKNOWN_KEY"),
    "no-path": ({"components": ("@method", "content-digest")}, "SIGNATURE_MALFORMED"),
}


@pytest.mark.parametrize("kind", REJECTIONS)
def test_a_rejected_request_uses_up_no_nonce(instance: Instance, kind: str) -> None:
    options, code = REJECTIONS[kind]
    nonce = new_nonce()
    rejected(instance.activate(sign_options={"nonce": nonce, **options}), code)
    assert instance.activate(sign_options={"nonce": nonce}).status == 201


def test_a_422_uses_up_the_nonce(instance: Instance) -> None:
    nonce = new_nonce()
    invalid = instance.activate(sign_options={"nonce": nonce}, colour="blue")
    assert (invalid.status, invalid.code) == (422, "INVALID_REQUEST")
    rejected(instance.activate(sign_options={"nonce": nonce}), "NONCE_REPLAYED")


def test_a_403_uses_up_the_nonce(instance: Instance) -> None:
    nonce = new_nonce()
    refused = instance.activate(sign_options={"nonce": nonce}, product="another-product")
    assert (refused.status, refused.code) == (403, "PRODUCT_MISMATCH")
    rejected(instance.activate(sign_options={"nonce": nonce}), "NONCE_REPLAYED")


def test_a_404_uses_up_the_nonce(instance: Instance) -> None:
    nonce = new_nonce()
    assert instance.check_in(sign_options={"nonce": nonce}).status == 404
    rejected(instance.activate(sign_options={"nonce": nonce}), "NONCE_REPLAYED")


# --- the order of the table ------------------------------------------------------------------


def _used_nonce(instance: Instance) -> dict[str, Any]:
    nonce = new_nonce()
    assert instance.activate(sign_options={"nonce": nonce}).status == 201
    return {"nonce": nonce}


# Each case breaks two rules; the one earlier in the table must answer.
ORDER: dict[str, tuple[Callable[[Instance], dict[str, Any]], str]] = {
    "malformed-before-digest": (
        lambda i: {"components": ("@method", "content-digest"), "omit_digest": True},
        "SIGNATURE_MALFORMED",
    ),
    "digest-before-unknown-key": (
        lambda i: {"key_id": UNKNOWN_KEY_ID, "digest": content_digest(b"x")},
        "DIGEST_MISMATCH",
    ),
    "unknown-key-before-invalid": (
        lambda i: {"key_id": UNKNOWN_KEY_ID, "secret": b"\x02" * 32},
        "UNKNOWN_KEY",
    ),
    "invalid-before-stale": (
        lambda i: {"secret": b"\x02" * 32, "created_offset": -3600},
        "SIGNATURE_INVALID",
    ),
    "stale-before-replayed": (
        lambda i: {**_used_nonce(i.other()), "created_offset": -3600},
        "SIGNATURE_STALE",
    ),
}


@pytest.mark.parametrize("case", ORDER)
def test_the_first_failing_rule_answers(instance: Instance, case: str) -> None:
    make_options, code = ORDER[case]
    request = activation(instance, **make_options(instance))
    rejected(instance.deliver(request), code)


def test_missing_is_checked_before_malformed(instance: Instance) -> None:
    request = activation(instance)
    headers = {
        "Content-Type": "application/json",
        "Content-Digest": request.headers["Content-Digest"],
        "Signature-Input": 'sig1=("@method" "@path"',  # unparsable, and no Signature at all
    }
    answer = instance.deliver(request, headers=headers, expect_nonce=None)
    rejected(answer, "SIGNATURE_MISSING")
