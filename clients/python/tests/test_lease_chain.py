"""Every check-in names the lease the instance holds (``lease_jti``), automatically."""

from __future__ import annotations

import jwt
import pytest
from fakeserver import Harness
from licensing_client.lease import lease_id_of


def jti_of(token: str | None) -> str:
    assert token is not None
    value: str = jwt.decode(token, options={"verify_signature": False})["jti"]
    return value


def check_in(harness: Harness) -> dict[str, object]:
    harness.server.queue(
        lambda seen: harness.server.check_in_reply(seen, activation_id=Harness.ACTIVATION_ID)
    )
    harness.client.check_in()
    sent: dict[str, object] = harness.server.seen[-1].json
    return sent


def test_each_check_in_names_the_lease_stored_by_the_one_before(harness: Harness) -> None:
    harness.activate()
    activated = harness.client.state.load_lease()

    first = check_in(harness)
    refreshed = harness.client.state.load_lease()
    second = check_in(harness)

    assert first["lease_jti"] == jti_of(activated)
    assert second["lease_jti"] == jti_of(refreshed)
    assert first["lease_jti"] != second["lease_jti"]


def test_without_a_stored_lease_no_lease_is_named(harness: Harness) -> None:
    assert "lease_jti" not in check_in(harness)


def test_an_expired_lease_is_still_the_one_held(harness: Harness) -> None:
    harness.activate()
    held = jti_of(harness.client.state.load_lease())
    harness.clock.advance(30 * 86400)
    assert not harness.client.status().valid
    assert check_in(harness)["lease_jti"] == held


def test_a_copied_state_directory_names_the_same_lease(harness: Harness) -> None:
    # Two machines started from one image hold the same files: the server tells them
    # apart because only one of them can hold the newest lease.
    harness.activate()
    copy = harness.make_client()
    assert lease_id_of(copy.state.load_lease()) == jti_of(harness.client.state.load_lease())


def test_a_damaged_lease_file_does_not_fail_the_check_in(harness: Harness) -> None:
    harness.activate()
    harness.client.state.save_lease("not-a-jwt")
    assert "lease_jti" not in check_in(harness)


@pytest.mark.parametrize("jti", ["", "x" * 65, "caf\u00e9", "line\n", 42])
def test_an_id_the_server_would_refuse_is_not_sent(harness: Harness, jti: object) -> None:
    token = harness.server.lease(
        fingerprint=harness.client.fingerprint, activation_id=Harness.ACTIVATION_ID, jti=jti
    )
    assert lease_id_of(token) is None


def test_the_longest_printable_id_is_sent() -> None:
    token = jwt.encode({"jti": "~" * 64}, "secret-for-an-unverified-read-32b", algorithm="HS256")
    assert lease_id_of(token) == "~" * 64
