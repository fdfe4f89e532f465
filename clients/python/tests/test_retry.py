"""Retries: connection errors, 5xx and 429 (Retry-After), each attempt freshly signed."""

from __future__ import annotations

from collections.abc import Callable

import pytest
import requests
from fakeserver import Harness, Reply, Seen, problem
from licensing_client import (
    LicensingClientError,
    RateLimitedError,
    ServerUnreachableError,
    UnverifiedResponseError,
)


def _valid(harness: Harness) -> Callable[[Seen], Reply]:
    return lambda seen: harness.server.check_in_reply(seen, activation_id=Harness.ACTIVATION_ID)


def test_503_is_retried_with_exponential_backoff(harness: Harness) -> None:
    harness.activate()
    harness.server.queue(problem(503, "INTERNAL_ERROR"), problem(500, "INTERNAL_ERROR"))
    harness.server.queue(_valid(harness))
    start = harness.clock()
    assert harness.client.check_in().valid
    assert harness.sleeps == [0.5, 1.0]
    attempts = harness.server.seen[1:]
    assert len(attempts) == 3
    assert len({seen.nonce for seen in attempts}) == 3
    assert [seen.created for seen in attempts] == [
        int(start),
        int(start + 0.5),
        int(start + 1.5),
    ]
    assert len({seen.headers["Signature"] for seen in attempts}) == 3


def test_429_honours_retry_after_seconds(harness: Harness) -> None:
    harness.activate()
    limited = problem(429, "RATE_LIMITED")
    limited.headers = {"Retry-After": "7", "RateLimit-Limit": "10"}
    harness.server.queue(limited, _valid(harness))
    assert harness.client.check_in().valid
    assert harness.sleeps == [7.0]
    first, second = harness.server.seen[1:]
    assert second.created - first.created == 7
    assert first.nonce != second.nonce


def test_retry_after_as_an_http_date(harness: Harness) -> None:
    harness.activate()
    limited = problem(503, "INTERNAL_ERROR")
    # The fake clock starts at 2026-01-01T00:00:00Z.
    limited.headers = {"Retry-After": "Thu, 01 Jan 2026 00:00:12 GMT"}
    harness.server.queue(limited, _valid(harness))
    assert harness.client.check_in().valid
    assert harness.sleeps == [12.0]


def test_a_retry_after_beyond_the_limit_ends_the_retries(harness: Harness) -> None:
    harness.activate()
    limited = problem(429, "RATE_LIMITED", "slow down")
    limited.headers = {"Retry-After": "3600"}
    harness.server.queue(limited)
    with pytest.raises(ServerUnreachableError) as caught:
        harness.client.check_in()
    assert caught.value.retry_after == 3600
    assert (caught.value.code, caught.value.status) == ("RATE_LIMITED", 429)
    assert isinstance(caught.value, RateLimitedError)
    assert harness.sleeps == []
    assert harness.client.status().valid


def test_giving_up_after_the_last_retry_keeps_the_lease(harness: Harness) -> None:
    harness.activate()
    harness.server.default = lambda _seen: problem(503, "INTERNAL_ERROR", "down")
    with pytest.raises(ServerUnreachableError) as caught:
        harness.client.check_in()
    assert not isinstance(caught.value, UnverifiedResponseError)
    assert (caught.value.status, caught.value.code) == (503, "INTERNAL_ERROR")
    assert len(harness.server.seen) == 1 + 4
    assert harness.sleeps == [0.5, 1.0, 2.0]
    assert harness.client.status().valid


def test_connection_errors_are_retried(harness: Harness) -> None:
    harness.activate()
    harness.server.queue(
        Reply(error=requests.ConnectionError("refused")),
        Reply(error=requests.Timeout("slow")),
        _valid(harness),
    )
    assert harness.client.check_in().valid
    assert harness.sleeps == [0.5, 1.0]


def test_unreachable_server_raises_after_the_retries(harness: Harness) -> None:
    harness.activate()
    harness.server.default = lambda _seen: Reply(error=requests.ConnectionError("refused"))
    client = harness.make_client(retries=1, backoff=2)
    with pytest.raises(ServerUnreachableError, match="refused") as caught:
        client.check_in()
    assert type(caught.value) is ServerUnreachableError
    assert caught.value.code == "SERVER_UNREACHABLE"
    assert harness.sleeps == [2.0]
    assert client.status().valid


def test_an_unverified_answer_then_a_good_one(harness: Harness) -> None:
    harness.activate()

    def unsigned(seen: Seen) -> Reply:
        reply = harness.server.check_in_reply(seen, activation_id=Harness.ACTIVATION_ID)
        reply.signed = False
        return reply

    harness.server.queue(unsigned, _valid(harness))
    assert harness.client.check_in().valid
    assert harness.sleeps == [0.5]


@pytest.mark.parametrize("status", [401, 403, 404, 422])
def test_verified_client_errors_are_not_retried(harness: Harness, status: int) -> None:
    harness.activate()
    code = {401: "SIGNATURE_STALE", 403: "REVOKED", 404: "NOT_ACTIVATED", 422: "INVALID_REQUEST"}
    harness.server.queue(problem(status, code[status]))
    with pytest.raises(LicensingClientError) as caught:
        harness.client.check_in()
    assert not isinstance(caught.value, ServerUnreachableError)
    assert caught.value.status == status
    assert len(harness.server.seen) == 2
    assert harness.sleeps == []
