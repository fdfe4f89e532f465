"""Partner limits hold across worker processes: per key, and failed authentications.

A real ``licensing serve --workers 2``, counting in Redis (``LICENSING_REDIS_URL``), in
the embedded SQLite database's counters file, or in PostgreSQL, without Redis. Requests
go out at once, each on a new connection, so that both workers answer some: a limit of
five per minute lets exactly five through. Counted in each worker's memory instead, up
to ten would get through.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator, Mapping
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database
from tests.live import LiveServer, live_server

REDIS_URL = os.environ.get("LICENSING_TEST_RATE_LIMIT_REDIS_URL", "redis://127.0.0.1:6379/12")
LIMIT = 5
REQUESTS = 12
FAILURE_LIMIT = 3
GUESSES = 8
# Addresses as the trusted proxy in front reports them (LICENSING_TRUSTED_PROXY_HOPS=1).
GUESSER = "203.0.113.7"
BYSTANDER = "198.51.100.9"
# gunicorn's access log, switched on for this server only: which worker (pid) answered.
ACCESS_LOG = re.compile(r"partner-access pid=<(\d+)> status=(\d+) path=(\S+) for=(\S+)")
GUNICORN_CMD_ARGS = (
    "--access-logfile - --access-logformat "
    "'partner-access pid=%(p)s status=%(s)s path=%(U)s for=%({x-forwarded-for}i)s'"
)
CHECKS = "/v1/partner/license-checks"


def redis_url() -> str:
    """The Redis database reserved for this test, emptied first."""
    import redis

    client = redis.Redis.from_url(REDIS_URL)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        if os.environ.get("CI"):
            raise  # CI starts Redis: a missing server is a failure there, not a skip
        pytest.skip(f"no Redis at {REDIS_URL}: the shared rate limit needs one")
    client.flushdb()
    client.close()
    return REDIS_URL


@pytest.fixture(scope="module", params=["redis", "sqlite", "postgresql"])
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    env = {
        "GUNICORN_CMD_ARGS": GUNICORN_CMD_ARGS,
        "LICENSING_TRUSTED_PROXY_HOPS": "1",
        "LICENSING_PARTNER_AUTH_FAILURE_LIMIT": f"{FAILURE_LIMIT}/minute",
    }
    folder = tmp_path_factory.mktemp(f"partner-live-{request.param}")
    if request.param == "redis":
        env["LICENSING_REDIS_URL"] = redis_url()
    if request.param != "postgresql":
        with live_server(folder, workers=2, env=env) as running:
            yield running
        return
    given = os.environ.get(TEST_DATABASE_ENV, "").strip()
    if not given.startswith("postgresql"):  # the suite's PostgreSQL run (CI) has one
        pytest.skip(f"{TEST_DATABASE_ENV} names no PostgreSQL server")
    with (
        fresh_postgresql_database(given, label="limits") as url,
        live_server(folder, database_url=url, workers=2, env=env) as running,
    ):
        yield running


def partner_key(server: LiveServer, name: str, limit: str) -> str:
    server.cli(
        *("partner", "add", name, "--kind", "reseller"),
        *("--product", "demo-mailserver", "--rate-limit", limit),
    )
    created = json.loads(server.cli("partner", "key", "create", name, "--json"))
    key: str = created["api_key"]
    return key


@pytest.fixture(scope="module")
def api_key(server: LiveServer) -> str:
    return partner_key(server, "Limited Reseller", f"{LIMIT}/minute")


@pytest.fixture(scope="module")
def roomy_key(server: LiveServer) -> str:
    return partner_key(server, "Roomy Reseller", "1000/minute")


def check(
    server: LiveServer, authorization: str, license_key: str, headers: Mapping[str, str] = {}
) -> requests.Response:
    """One license check on a connection of its own."""
    with requests.Session() as session:
        return session.post(
            server.base_url + CHECKS,
            json={"license_key": license_key, "target_version": "2.0.0"},
            headers={"Authorization": authorization, "Connection": "close", **headers},
            timeout=30,
        )


def at_once(count: int, send: Any) -> list[requests.Response]:
    """``count`` calls of ``send`` released together from as many threads."""
    start = threading.Barrier(count)

    def released(_: int) -> requests.Response:
        start.wait(timeout=30)
        response: requests.Response = send()
        return response

    with ThreadPoolExecutor(max_workers=count) as pool:
        return list(pool.map(released, range(count)))


def assert_rate_limited(response: requests.Response) -> dict[str, Any]:
    assert response.status_code == 429, (response.status_code, response.text)
    assert response.headers["Content-Type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert (body["status"], body["code"]) == (429, "RATE_LIMITED")
    assert body["request_id"] == response.headers["X-Request-Id"]
    assert 1 <= int(response.headers["Retry-After"]) <= 60
    return body


def test_the_limit_holds_across_two_workers(
    server: LiveServer, api_key: str, request: pytest.FixtureRequest
) -> None:
    license_key = server.licenses[0]["license_key"]

    responses = at_once(REQUESTS, lambda: check(server, f"Bearer {api_key}", license_key))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * LIMIT + [429] * (REQUESTS - LIMIT), statuses
    for response in responses:
        assert response.headers["RateLimit-Limit"] == str(LIMIT)
        if response.status_code == 429:
            assert_rate_limited(response)
            assert response.headers["RateLimit-Remaining"] == "0"
        else:
            assert response.json()["license"]["valid"] is True
    remaining = sorted(int(r.headers["RateLimit-Remaining"]) for r in responses if r.ok)
    if request.node.callspec.params["server"] == "redis":
        # Flask-Limiter reads Redis's figure after the hit, in a second round trip: two
        # requests at once may read the same one. The count itself is exact (above).
        assert remaining[0] == 0 and all(0 <= r < LIMIT for r in remaining), remaining
    else:  # the database storage answers the figure of its own hit: 4, 3, 2, 1, 0
        assert remaining == list(range(LIMIT)), remaining
    # Both workers answered some of the checks (gunicorn logs the answering pid).
    answered = access_log(server, "-", REQUESTS)
    assert sorted(status for _, status in answered) == statuses, answered
    assert len({pid for pid, _ in answered}) == 2, answered


def test_failed_authentications_throttle_their_address_across_two_workers(
    server: LiveServer, roomy_key: str
) -> None:
    license_key = server.licenses[0]["license_key"]
    key_id = roomy_key.split("_")[1]
    guess = f"Bearer lpk_{key_id}_{'A' * 43}"
    from_guesser = {"X-Forwarded-For": GUESSER}

    failed = [check(server, guess, license_key, from_guesser) for _ in range(FAILURE_LIMIT)]
    # Every request that starts after the limit's failures were counted is refused,
    # whichever worker takes it. (Counted per worker, the one that saw fewer failures
    # would still answer 401.)
    further = at_once(GUESSES, lambda: check(server, guess, license_key, from_guesser))

    assert [response.status_code for response in failed] == [401] * FAILURE_LIMIT
    for response in further:
        body = assert_rate_limited(response)
        assert "failed authentications" in body["detail"]
        assert "RateLimit-Limit" not in response.headers  # no key's window was counted
    answered = access_log(server, GUESSER, FAILURE_LIMIT + GUESSES)
    refused_by = {pid for pid, status in answered if status == 429}
    assert len(answered) == FAILURE_LIMIT + GUESSES and len(refused_by) == 2, answered
    # The right key from the throttled address waits too: a guess that found it must not
    # stand out. From another address the same key is answered.
    assert_rate_limited(check(server, f"Bearer {roomy_key}", license_key, from_guesser))
    answer = check(server, f"Bearer {roomy_key}", license_key, {"X-Forwarded-For": BYSTANDER})
    assert answer.status_code == 200, answer.text
    assert answer.json()["license"]["valid"] is True
    # Both workers' counts, merged in one scrape; no address among the labels.
    metrics = requests.get(server.base_url + "/metrics", timeout=10).text
    invalid = f'licensing_partner_auth_failures_total{{reason="invalid"}} {FAILURE_LIMIT}.0'
    assert invalid in metrics, metrics
    assert f"licensing_partner_auth_throttled_total {GUESSES + 1}.0" in metrics, metrics
    assert GUESSER not in metrics and BYSTANDER not in metrics


def access_log(server: LiveServer, sender: str, expected: int) -> list[tuple[str, int]]:
    """(pid, status) of each license check from ``sender``; logged just after answering."""
    deadline = time.monotonic() + 10
    while True:
        answered = [
            (pid, int(status))
            for pid, status, path, by in ACCESS_LOG.findall(server.log.read_text(errors="replace"))
            if path == CHECKS and by == sender
        ]
        if len(answered) >= expected or time.monotonic() > deadline:
            return answered
        time.sleep(0.05)
