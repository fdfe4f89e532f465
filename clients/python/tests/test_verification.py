"""Signed answers (PROTOCOL.md §3): anything that does not verify counts as no answer."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from typing import Any

import pytest
from fakeserver import GRACE, Harness, Reply, Seen, ServerKey, problem
from licensing_client import (
    LicenseRefusedError,
    ServerUnreachableError,
    UnverifiedResponseError,
)


def _flip_code(content: bytes) -> bytes:
    return content.replace(b'"VALID"', b'"VALIX"')


def _check_in(harness: Harness) -> None:
    harness.client.check_in()


def _impostor(harness: Harness) -> ServerKey:
    """Another private key presenting the pinned key's kid."""
    return ServerKey(ServerKey.generate().private, harness.server.server_key.kid)


BROKEN: dict[str, Callable[[Harness], dict[str, Any]]] = {
    "tampered body": lambda _h: {"tamper": _flip_code},
    "body replaced": lambda _h: {"tamper": lambda _content: b'{"valid": true}'},
    "unknown key": lambda _h: {"key": ServerKey.generate()},
    "pinned kid, other key": lambda h: {"key": _impostor(h)},
    "wrong nonce": lambda _h: {"nonce": "AAAAAAAAAAAAAAAAAAAAAA"},
    "stale created": lambda _h: {"created_offset": -301},
    "created in the future": lambda _h: {"created_offset": +301},
    "unsigned": lambda _h: {"signed": False},
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_a_broken_answer_is_no_answer(harness: Harness, case: str) -> None:
    harness.activate()
    lease_before = harness.client.state.load_lease()
    breakage = BROKEN[case](harness)

    def reply(seen: Seen) -> Reply:
        good = harness.server.check_in_reply(seen, activation_id=Harness.ACTIVATION_ID)
        return dataclasses.replace(good, **breakage)

    harness.server.default = reply
    with pytest.raises(UnverifiedResponseError) as caught:
        _check_in(harness)
    assert isinstance(caught.value, ServerUnreachableError)
    assert caught.value.code == "RESPONSE_UNVERIFIED"
    assert len(harness.server.seen) == 1 + 4  # activation, then 1 + 3 retries
    assert harness.client.state.load_lease() == lease_before
    assert harness.client.status().valid


@pytest.mark.parametrize("offset", [-300, 300, 0])
def test_created_within_300_seconds_is_accepted(harness: Harness, offset: int) -> None:
    harness.activate()
    harness.server.queue(
        lambda seen: _with_offset(
            harness.server.check_in_reply(seen, activation_id=Harness.ACTIVATION_ID), offset
        )
    )
    assert harness.client.check_in().valid


def _with_offset(reply: Reply, offset: float) -> Reply:
    reply.created_offset = offset
    return reply


def test_a_forged_revocation_is_ignored_and_the_lease_kept(harness: Harness) -> None:
    harness.activate()
    forged = problem(403, "REVOKED")
    forged.key = ServerKey.generate()
    harness.server.default = lambda _seen: forged
    with pytest.raises(UnverifiedResponseError):
        harness.client.check_in()
    status = harness.client.status()
    assert status.valid
    assert status.code == "VALID"


def test_a_replayed_answer_to_another_request_is_rejected(harness: Harness) -> None:
    harness.activate()
    captured: list[Reply] = []

    def first(seen: Seen) -> Reply:
        reply = harness.server.check_in_reply(seen, activation_id=Harness.ACTIVATION_ID)
        reply.body["nonce"] = seen.nonce
        captured.append(reply)
        return reply

    harness.server.queue(first)
    harness.client.check_in()
    # The attacker answers the next request with the captured answer (old nonce).
    harness.server.default = lambda _seen: captured[0]
    with pytest.raises(UnverifiedResponseError, match="nonce"):
        harness.client.check_in()


def test_verified_refusal_is_raised_with_the_problem_members(harness: Harness) -> None:
    harness.server.queue(problem(403, "TOO_MANY_ACTIVATIONS", "Every activation is in use."))
    with pytest.raises(LicenseRefusedError) as caught:
        harness.client.activate()
    error = caught.value
    assert (error.code, error.status, error.request_id) == (
        "TOO_MANY_ACTIVATIONS",
        403,
        "fake-request-0001",
    )
    assert error.detail == "Every activation is in use."
    assert "TOO_MANY_ACTIVATIONS" in str(error)


def test_the_lease_grace_is_what_the_server_signed(harness: Harness) -> None:
    harness.activate()
    status = harness.client.status()
    assert status.expires_at is not None
    assert status.expires_at.timestamp() == int(harness.clock()) + GRACE
