"""Races against a real server: the seat limit and the replay store hold under parallel load.

A live ``licensing serve`` (2 gunicorn workers x 10 threads, so 20 requests really run at
once) on committed data, on both backends: PostgreSQL (a fresh database, created and
dropped here; only when ``LICENSING_TEST_DATABASE_URL`` names a server) and the embedded
SQLite file, the latter also with its nonces in Redis. Threads wait at a barrier and
then fire together.
"""

from __future__ import annotations

import os
import re
import secrets
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, TypeVar

import pytest
import requests
import sqlalchemy as sa

from tests.databases import fresh_postgresql_database
from tests.live import LiveAnswer, LiveServer, call, live_server, send_signed
from tests.signing import Credentials, json_body, sign

TEST_DATABASE_ENV = "LICENSING_TEST_DATABASE_URL"
REDIS_URL = os.environ.get("LICENSING_TEST_RACE_REDIS_URL", "redis://127.0.0.1:6379/13")
ACTIVATIONS = "/v1/instance/activations"
CHECK_INS = "/v1/instance/check-ins"
T = TypeVar("T")

BACKENDS = [
    "sqlite",
    "sqlite+redis",  # nonces in Redis (SET NX) instead of the database
    pytest.param(
        "postgresql",
        marks=[
            pytest.mark.postgres_only,
            pytest.mark.skipif(
                not os.environ.get(TEST_DATABASE_ENV, "").strip(),
                reason=f"{TEST_DATABASE_ENV} is not set: no PostgreSQL server to race on",
            ),
        ],
    ),
]


@pytest.fixture(scope="module")
def postgres_database() -> Iterator[str]:
    """A database of its own on the test server, for committed data; dropped after."""
    with fresh_postgresql_database(os.environ[TEST_DATABASE_ENV].strip(), label="race_") as url:
        yield url


@pytest.fixture(scope="module")
def redis_url() -> str:
    import redis

    try:
        redis.Redis.from_url(REDIS_URL, socket_connect_timeout=2).ping()
    except redis.RedisError as exc:
        if os.environ.get("CI"):
            raise  # CI starts Redis: a missing server is a failure there, not a skip
        pytest.skip(f"no Redis at {REDIS_URL}: {exc}")
    return REDIS_URL


@pytest.fixture(scope="module", params=BACKENDS)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    database_url = None
    if request.param == "postgresql":
        database_url = request.getfixturevalue("postgres_database")
    folder = tmp_path_factory.mktemp(f"race-{request.param}")
    with live_server(
        Path(folder), database_url=database_url, workers=2, threads=10, licenses=3
    ) as running:
        yield running


@pytest.fixture(scope="module")
def jwks(server: LiveServer) -> dict[str, Any]:
    return server.jwks()


def in_parallel(count: int, task: Callable[[int], T]) -> list[T]:
    """Run ``task(0..count-1)`` in as many threads, released together by a barrier."""
    barrier = threading.Barrier(count)
    results: list[T | None] = [None] * count
    failures: list[BaseException] = []

    def run(index: int) -> None:
        try:
            barrier.wait(timeout=30)
            results[index] = task(index)
        except BaseException as exc:  # reported below, in the test's thread
            failures.append(exc)

    threads = [threading.Thread(target=run, args=(i,)) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    if failures:
        raise failures[0]
    assert all(result is not None for result in results)
    return [result for result in results if result is not None]


def scalar(server: LiveServer, query: str, **params: Any) -> Any:
    """Read the committed state the server left behind, through a connection of our own."""
    engine = sa.create_engine(server.database_url)
    try:
        with engine.connect() as connection:
            return connection.execute(sa.text(query), params).scalar()
    finally:
        engine.dispose()


def activation(license: dict[str, Any], fingerprint: str) -> dict[str, Any]:
    return {
        "product": license["product"],
        "fingerprint": fingerprint,
        "server_name": f"{fingerprint}.example.com",
        "product_version": "2.1.0",
    }


def test_parallel_activations_hold_the_seat_limit(server: LiveServer, jwks: dict[str, Any]) -> None:
    license = server.licenses[0]  # 1 seat + a migration allowance of 1
    credentials = Credentials.from_license_key(license["license_key"])

    def activate(index: int) -> LiveAnswer:
        body = activation(license, f"fp-race-{index:02d}-{secrets.token_hex(8)}")
        return call(server, credentials, "POST", ACTIVATIONS, body, jwks=jwks)

    answers = in_parallel(20, activate)

    outcomes = Counter((answer.status, answer.code) for answer in answers)
    assert outcomes == {(201, "VALID"): 2, (403, "TOO_MANY_ACTIVATIONS"): 18}, outcomes
    seats = sorted(a.body["license"]["activations"]["used"] for a in answers if a.status == 201)
    assert seats == [1, 2]
    live = scalar(
        server,
        "SELECT count(*) FROM activations a JOIN licenses l ON l.id = a.license_id "
        "WHERE l.key_id = :key_id AND a.status = 'active'",
        key_id=license["key_id"],
    )
    assert live == 2


def test_one_signed_request_sent_ten_times_at_once_is_accepted_once(
    server: LiveServer, jwks: dict[str, Any]
) -> None:
    license = server.licenses[1]
    credentials = Credentials.from_license_key(license["license_key"])
    body = json_body(activation(license, "fp-replayed-" + secrets.token_hex(8)))
    signed = sign(credentials, "POST", ACTIVATIONS, body, base_url=server.base_url)

    answers = in_parallel(10, lambda _: send_signed(server, signed, jwks))

    outcomes = Counter((answer.status, answer.code) for answer in answers)
    assert outcomes == {(201, "VALID"): 1, (401, "NONCE_REPLAYED"): 9}, outcomes
    stored = scalar(
        server,
        "SELECT count(*) FROM replay_nonces WHERE key_id = :key_id AND nonce = :nonce",
        key_id=license["key_id"],
        nonce=signed.nonce,
    )
    # Kept in the database, or (with Redis configured) in Redis alone.
    assert stored == (0 if "LICENSING_REDIS_URL" in server.env else 1)
    live = scalar(
        server,
        "SELECT count(*) FROM activations a JOIN licenses l ON l.id = a.license_id "
        "WHERE l.key_id = :key_id AND a.status = 'active'",
        key_id=license["key_id"],
    )
    assert live == 1


def test_parallel_check_ins_are_each_recorded_once(
    server: LiveServer, jwks: dict[str, Any]
) -> None:
    """20 check-ins at once (on PostgreSQL they share commits), then one sent 10 times."""
    license = server.licenses[2]
    credentials = Credentials.from_license_key(license["license_key"])
    fingerprint = f"fp-check-ins-{secrets.token_hex(8)}"
    activated = call(
        server, credentials, "POST", ACTIVATIONS, activation(license, fingerprint), jwks=jwks
    )
    assert activated.status == 201
    report = {
        "fingerprint": fingerprint,
        "server_name": "mail.example.com",
        "product_version": "2.1.0",
    }

    def check_in(index: int) -> LiveAnswer:
        return call(
            server, credentials, "POST", CHECK_INS, report | {"usage": {"n": index}}, jwks=jwks
        )

    answers = in_parallel(20, check_in)
    replayed = sign(credentials, "POST", CHECK_INS, json_body(report), base_url=server.base_url)
    replays = in_parallel(10, lambda _: send_signed(server, replayed, jwks))

    assert Counter((a.status, a.code) for a in answers) == {(200, "VALID"): 20}
    assert Counter((a.status, a.code) for a in replays) == {
        (200, "VALID"): 1,
        (401, "NONCE_REPLAYED"): 9,
    }
    recorded = scalar(
        server,
        "SELECT sum(o.count) FROM usage_observations o JOIN activations a"
        " ON a.id = o.activation_id WHERE a.fingerprint = :fingerprint",
        fingerprint=fingerprint,
    )
    assert recorded == 1 + 20 + 1  # the activation's own observation, 20, the replayed one
    metrics = requests.get(server.base_url + "/metrics", timeout=10).text
    batched = re.search(r"^licensing_check_in_batch_size_sum (\S+)$", metrics, re.MULTILINE)
    if server.database_url.startswith("postgresql"):  # check-ins went through group commit
        assert batched is not None and float(batched[1]) >= 20 + 10
    else:  # SQLite writes each check-in in its own transaction
        assert batched is None or float(batched[1]) == 0
