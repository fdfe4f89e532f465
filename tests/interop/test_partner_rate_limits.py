"""A partner's rate limit holds across worker processes when counted in Redis.

A real ``licensing serve --workers 2`` with ``LICENSING_REDIS_URL``: twelve license checks,
each on a new connection and sent at once so that both workers answer some, get exactly
the five answers a ``5/minute`` limit allows. Counted in each worker's memory instead,
up to ten would get through.
"""

from __future__ import annotations

import json
import os
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest
import requests

from tests.live import LiveServer, live_server

REDIS_URL = os.environ.get("LICENSING_TEST_RATE_LIMIT_REDIS_URL", "redis://127.0.0.1:6379/14")
LIMIT = 5
REQUESTS = 12
# gunicorn's access log, switched on for this server only: which worker (pid) answered.
ACCESS_LOG = re.compile(r"partner-access pid=<(\d+)> status=(\d+) path=(\S+)")
GUNICORN_CMD_ARGS = (
    "--access-logfile - --access-logformat 'partner-access pid=%(p)s status=%(s)s path=%(U)s'"
)


@pytest.fixture(scope="module")
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


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, redis_url: str) -> Iterator[LiveServer]:
    env = {"LICENSING_REDIS_URL": redis_url, "GUNICORN_CMD_ARGS": GUNICORN_CMD_ARGS}
    with live_server(tmp_path_factory.mktemp("partner-live"), workers=2, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def api_key(server: LiveServer) -> str:
    server.cli(
        *("partner", "add", "Limited Reseller", "--kind", "reseller"),
        *("--product", "demo-mailserver", "--rate-limit", f"{LIMIT}/minute"),
    )
    created = json.loads(server.cli("partner", "key", "create", "Limited Reseller", "--json"))
    key: str = created["api_key"]
    return key


def check(server: LiveServer, api_key: str, license_key: str) -> requests.Response:
    """One license check on a connection of its own."""
    with requests.Session() as session:
        return session.post(
            server.base_url + "/v1/partner/license-checks",
            json={"license_key": license_key, "target_version": "2.0.0"},
            headers={"Authorization": f"Bearer {api_key}", "Connection": "close"},
            timeout=30,
        )


def test_the_limit_holds_across_two_workers(server: LiveServer, api_key: str) -> None:
    license_key = server.licenses[0]["license_key"]
    start = threading.Barrier(REQUESTS)

    def send(_: int) -> requests.Response:
        start.wait(timeout=30)
        return check(server, api_key, license_key)

    with ThreadPoolExecutor(max_workers=REQUESTS) as pool:
        responses = list(pool.map(send, range(REQUESTS)))

    statuses = sorted(response.status_code for response in responses)
    assert statuses == [200] * LIMIT + [429] * (REQUESTS - LIMIT), statuses
    for response in responses:
        assert response.headers["RateLimit-Limit"] == str(LIMIT)
        if response.status_code == 429:
            body: dict[str, Any] = response.json()
            assert response.headers["Content-Type"] == "application/problem+json"
            assert (body["status"], body["code"]) == (429, "RATE_LIMITED")
            assert body["request_id"] == response.headers["X-Request-Id"]
            assert response.headers["RateLimit-Remaining"] == "0"
            assert 1 <= int(response.headers["Retry-After"]) <= 60
        else:
            assert response.json()["license"]["valid"] is True
    remaining = sorted(int(r.headers["RateLimit-Remaining"]) for r in responses if r.ok)
    assert remaining == list(range(LIMIT)), remaining  # one shared count: 4, 3, 2, 1, 0

    # Both workers answered some of the checks (gunicorn logs the answering pid).
    answered = access_log(server)
    assert sorted(status for _, status in answered) == statuses, answered
    assert len({pid for pid, _ in answered}) == 2, answered


def access_log(server: LiveServer) -> list[tuple[str, int]]:
    """(pid, status) of every license check; a worker logs just after it has answered."""
    deadline = time.monotonic() + 10
    while True:
        answered = [
            (pid, int(status))
            for pid, status, path in ACCESS_LOG.findall(server.log.read_text(errors="replace"))
            if path == "/v1/partner/license-checks"
        ]
        if len(answered) >= REQUESTS or time.monotonic() > deadline:
            return answered
        time.sleep(0.05)
