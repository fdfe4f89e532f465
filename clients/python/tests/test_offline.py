"""Offline status from the stored lease, and what each verdict does to the state."""

from __future__ import annotations

from typing import Any

import jwt
import pytest
from fakeserver import GRACE, PRODUCT, Harness, Reply, Seen, ServerKey, problem
from licensing_client import (
    ConfigurationError,
    InvalidRequestError,
    LicenseRefusedError,
    NotActivatedError,
    SignatureRejectedError,
    UnexpectedResponseError,
    offline_status,
)


def test_status_is_valid_until_exp_then_not(harness: Harness) -> None:
    before = harness.client.status()
    assert (before.valid, before.code) == (False, "NOT_ACTIVATED")
    harness.activate()
    exp = int(harness.clock()) + GRACE
    status = harness.client.status()
    assert (status.valid, status.code) == (True, "VALID")
    assert status.entitlements == ("smtp",)
    assert status.activation_id == Harness.ACTIVATION_ID
    harness.clock.now = exp - 1
    assert harness.client.status().valid
    harness.clock.now = exp
    expired = harness.client.status()
    assert (expired.valid, expired.code) == (False, "LEASE_EXPIRED")
    assert expired.lease is not None
    assert expired.expires_at is not None
    assert expired.expires_at.timestamp() == exp
    assert expired.entitlements == ()


def test_status_never_calls_the_server(harness: Harness) -> None:
    harness.activate()
    harness.client.status()
    assert len(harness.server.seen) == 1


def _activate_with_lease(harness: Harness, **lease: Any) -> None:
    def reply(seen: Seen) -> Reply:
        answer = harness.server.activation_reply(seen, activation_id=Harness.ACTIVATION_ID)
        answer.body["lease"] = harness.server.lease(
            fingerprint=seen.json["fingerprint"], activation_id=Harness.ACTIVATION_ID, **lease
        )
        return answer

    harness.server.queue(reply)
    harness.client.activate()


@pytest.mark.parametrize(
    "lease",
    [
        {"aud": "another-product"},
        {"fpr": "another-instance-fingerprint"},
        {"act": "00000000-0000-4000-8000-000000000000"},
        {"key": ServerKey.generate()},
    ],
    ids=["aud", "fpr", "act", "unpinned key"],
)
def test_a_lease_that_does_not_fit_is_refused(harness: Harness, lease: dict[str, Any]) -> None:
    with pytest.raises(UnexpectedResponseError, match="lease"):
        _activate_with_lease(harness, **lease)
    assert harness.client.state.load_lease() is None


def test_a_stored_lease_for_another_product_is_not_valid(harness: Harness) -> None:
    harness.activate()
    other = harness.make_client()
    other.product = "other-product"
    assert other.status().code == "NOT_ACTIVATED"  # the stored activation is for PRODUCT
    assert harness.client.status().valid


def test_issuer_is_enforced_only_when_given(harness: Harness) -> None:
    harness.activate()
    assert harness.make_client(issuer="licensing-test").status().valid
    wrong = harness.make_client(issuer="licensing.example.com").status()
    assert (wrong.valid, wrong.code) == (False, "LEASE_INVALID")


def test_a_tampered_stored_lease_is_not_valid(harness: Harness) -> None:
    harness.activate()
    token = harness.client.state.load_lease()
    assert token is not None
    header, payload, signature = token.split(".")
    harness.client.state.save_lease(f"{header}.{payload}.{signature[:-4]}AAAA")
    status = harness.client.status()
    assert (status.valid, status.code) == (False, "LEASE_INVALID")


def test_a_lease_from_a_clock_slightly_ahead_is_accepted(harness: Harness) -> None:
    now = int(harness.clock())
    _activate_with_lease(harness, nbf=now + 120, iat=now + 120)
    assert harness.client.status().valid


def test_reactivation_is_idempotent(harness: Harness) -> None:
    harness.activate()
    harness.server.queue(
        lambda seen: harness.server.activation_reply(
            seen, activation_id=Harness.ACTIVATION_ID, status=200
        )
    )
    again = harness.client.activate()
    assert not again.created
    assert again.activation_id == Harness.ACTIVATION_ID


def test_check_in_sends_the_activation_and_stores_the_fresh_lease(harness: Harness) -> None:
    harness.activate()
    first = harness.client.state.load_lease()
    harness.clock.advance(3600)
    harness.server.queue(
        lambda seen: harness.server.check_in_reply(seen, activation_id=Harness.ACTIVATION_ID)
    )
    result = harness.client.check_in({"mailboxes": 120}, product_version="2.1.1")
    assert result.valid
    assert result.lease is not None
    assert harness.server.seen[-1].json == {
        "fingerprint": harness.client.fingerprint,
        "activation_id": Harness.ACTIVATION_ID,
        "server_name": "mail01.example.com",
        "product_version": "2.1.1",
        "usage": {"mailboxes": 120},
        "lease_jti": jwt.decode(first or "", options={"verify_signature": False})["jti"],
    }
    assert harness.client.state.load_lease() not in (None, first)
    status = harness.client.status()
    assert status.expires_at is not None
    assert status.expires_at.timestamp() == int(harness.clock()) + GRACE


def test_check_in_without_stored_state_recovers_the_activation(harness: Harness) -> None:
    harness.server.queue(
        lambda seen: harness.server.check_in_reply(seen, activation_id=Harness.ACTIVATION_ID)
    )
    assert harness.client.check_in().valid
    assert "activation_id" not in harness.server.seen[-1].json
    assert harness.client.activation_id == Harness.ACTIVATION_ID
    assert harness.client.status().valid


@pytest.mark.parametrize("code", ["REVOKED", "SUSPENDED", "EXPIRED"])
def test_a_verified_end_of_license_discards_the_lease(harness: Harness, code: str) -> None:
    harness.activate()
    harness.server.queue(
        lambda seen: harness.server.check_in_reply(
            seen, activation_id=Harness.ACTIVATION_ID, code=code
        )
    )
    result = harness.client.check_in()
    assert (result.valid, result.code, result.lease) == (False, code, None)
    assert result.license is not None
    assert harness.client.state.load_lease() is None
    assert harness.client.activation_id == Harness.ACTIVATION_ID
    assert harness.client.status().code == "NOT_ACTIVATED"


def test_version_not_covered_is_a_result_and_keeps_the_lease(harness: Harness) -> None:
    harness.activate()
    harness.server.queue(
        lambda seen: harness.server.check_in_reply(
            seen, activation_id=Harness.ACTIVATION_ID, code="VERSION_NOT_COVERED"
        )
    )
    result = harness.client.check_in(product_version="9.0.0")
    assert (result.valid, result.code) == (False, "VERSION_NOT_COVERED")
    assert result.detail == "verdict VERSION_NOT_COVERED"
    assert harness.client.status().valid


def test_not_activated_discards_activation_and_lease(harness: Harness) -> None:
    harness.activate()
    harness.server.queue(problem(404, "NOT_ACTIVATED", "No live activation."))
    with pytest.raises(NotActivatedError) as caught:
        harness.client.check_in()
    assert (caught.value.status, caught.value.code) == (404, "NOT_ACTIVATED")
    assert harness.client.activation_id is None
    assert harness.client.status().code == "NOT_ACTIVATED"


@pytest.mark.parametrize("code", ["REVOKED", "SUSPENDED", "EXPIRED"])
def test_a_refused_reactivation_discards_the_lease(harness: Harness, code: str) -> None:
    harness.activate()
    harness.server.queue(problem(403, code))
    with pytest.raises(LicenseRefusedError):
        harness.client.activate()
    assert harness.client.status().code == "NOT_ACTIVATED"


def test_too_many_activations_keeps_what_is_stored(harness: Harness) -> None:
    harness.activate()
    harness.server.queue(problem(403, "TOO_MANY_ACTIVATIONS"))
    with pytest.raises(LicenseRefusedError):
        harness.client.activate()
    assert harness.client.status().valid


def test_deactivate_releases_and_forgets(harness: Harness) -> None:
    harness.activate()
    harness.server.queue(Reply(body={"code": "DEACTIVATED"}))
    result = harness.client.deactivate()
    assert (result.code, result.activation_id) == ("DEACTIVATED", Harness.ACTIVATION_ID)
    seen = harness.server.seen[-1]
    assert (seen.method, seen.path, seen.body) == (
        "DELETE",
        f"/v1/instance/activations/{Harness.ACTIVATION_ID}",
        b"",
    )
    assert "Content-Type" not in seen.headers
    assert harness.client.status().code == "NOT_ACTIVATED"
    with pytest.raises(NotActivatedError):
        harness.client.deactivate()
    assert len(harness.server.seen) == 2


def test_signature_rejections_and_invalid_requests(harness: Harness) -> None:
    harness.server.queue(problem(401, "SIGNATURE_STALE", "created is 400 s off"))
    with pytest.raises(SignatureRejectedError) as rejected:
        harness.client.activate()
    assert rejected.value.code == "SIGNATURE_STALE"
    harness.server.queue(
        problem(422, "INVALID_REQUEST", errors={"usage.Mailboxes": ["Invalid name."]})
    )
    with pytest.raises(InvalidRequestError) as invalid:
        harness.client.activate(usage={"Mailboxes": 1})
    assert invalid.value.errors == {"usage.Mailboxes": ["Invalid name."]}


def test_product_version_is_required_somewhere(harness: Harness) -> None:
    client = harness.make_client(product_version=None)
    with pytest.raises(ConfigurationError, match="product_version"):
        client.activate()
    assert harness.server.seen == []
    harness.server.queue(
        lambda seen: harness.server.activation_reply(seen, activation_id=Harness.ACTIVATION_ID)
    )
    client.activate(product_version="1.0.0")
    assert harness.server.seen[-1].json["product_version"] == "1.0.0"
    assert harness.server.seen[-1].json["product"] == PRODUCT


def test_offline_status_needs_no_server_and_no_key(harness: Harness) -> None:
    harness.activate()
    jwks = {"keys": [harness.server.server_key.jwk]}
    status = offline_status(harness.state_dir, jwks, clock=harness.clock)

    assert status == harness.client.status()
    assert (status.valid, status.code) == (True, "VALID")
    harness.clock.now += GRACE
    assert offline_status(harness.state_dir, jwks, clock=harness.clock).code == "LEASE_EXPIRED"
    harness.state_dir.joinpath("fingerprint").write_text("another-instance-0123456789\n")
    moved = offline_status(harness.state_dir, jwks, clock=harness.clock)
    assert (moved.valid, moved.code) == (False, "NOT_ACTIVATED")
