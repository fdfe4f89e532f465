"""``licensing serve`` keeps answering while 50 clients trickle their request heads.

A real server (SQLite, and PostgreSQL when ``LICENSING_TEST_DATABASE_URL`` is set) gets
50 connections that send a check-in head one byte a second and never finish it — and
open a new connection whenever the server drops one, so 50 are open throughout. Meanwhile
another client times ``/healthz`` and signed check-ins, each on a new connection: the
99th percentile must stay under a second. Gunicorn's sync and gthread workers give a
thread to a connection at its first byte, so there two (SQLite) or eight (PostgreSQL)
such clients stop the server.
"""

from __future__ import annotations

import math
import os
import secrets
import socket
import threading
import time
from collections.abc import Iterator
from typing import Any

import pytest
import requests

from tests.databases import TEST_DATABASE_ENV, fresh_postgresql_database
from tests.live import LiveServer, call, live_server
from tests.signing import Credentials, json_body, sign, verify_response

SLOW_CLIENTS = 50
MEASURE_SECONDS = 10.0
REQUEST_TIMEOUT = 3.0
P99_LIMIT = 1.0
HEAD = (
    b"POST /v1/instance/check-ins HTTP/1.1\r\nHost: 127.0.0.1\r\n"
    b"Content-Type: application/json\r\nX-Padding: " + b"x" * 200
)


@pytest.fixture(
    scope="module",
    params=[
        "sqlite",
        pytest.param(
            "postgresql",
            marks=pytest.mark.skipif(
                not os.environ.get(TEST_DATABASE_ENV, "").strip(),
                reason=f"{TEST_DATABASE_ENV} is not set: no PostgreSQL server",
            ),
        ),
    ],
)
def server(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[LiveServer]:
    folder = tmp_path_factory.mktemp(f"slow-{request.param}")
    if request.param == "sqlite":
        with live_server(folder) as running:  # serve's defaults: 2 workers
            yield running
        return
    given = os.environ[TEST_DATABASE_ENV].strip()
    with (
        fresh_postgresql_database(given, label="slow_") as url,
        live_server(folder, database_url=url) as running,  # 2 workers x 4 threads
    ):
        yield running


class Trickler:
    """Holds SLOW_CLIENTS connections open, each sending one more byte every second."""

    def __init__(self, port: int) -> None:
        self.port = port
        self.connections: list[tuple[socket.socket, int]] = []
        self.reopened = 0
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self._run, daemon=True)

    def _open(self) -> tuple[socket.socket, int]:
        connection = socket.create_connection(("127.0.0.1", self.port), timeout=2)
        connection.setblocking(False)
        return connection, 0

    def start(self) -> None:
        self.connections = [self._open() for _ in range(SLOW_CLIENTS)]
        self.thread.start()

    def _run(self) -> None:
        while not self.stopping.wait(1.0):
            for index, (connection, sent) in enumerate(self.connections):
                try:
                    connection.send(HEAD[sent % len(HEAD) : sent % len(HEAD) + 1])
                    self.connections[index] = (connection, sent + 1)
                except OSError:  # dropped by the server: come back at once
                    connection.close()
                    self.connections[index] = self._open()
                    self.reopened += 1

    def stop(self) -> None:
        self.stopping.set()
        self.thread.join(timeout=5)
        for connection, _ in self.connections:
            connection.close()


def p99(latencies: list[float]) -> float:
    ordered = sorted(latencies)
    return ordered[math.ceil(0.99 * len(ordered)) - 1]


def timed(send: Any) -> float:
    """Seconds one request took to be answered; the timeout if it was not."""
    started = time.monotonic()
    try:
        send()
    except requests.Timeout:
        return REQUEST_TIMEOUT
    return time.monotonic() - started


def test_slow_clients_do_not_stop_the_server(server: LiveServer) -> None:
    license = server.licenses[0]
    credentials = Credentials.from_license_key(license["license_key"])
    jwks = server.jwks()
    fingerprint = "fp-" + secrets.token_hex(16)
    activation = {
        "product": license["product"],
        "fingerprint": fingerprint,
        "server_name": "mail01.example.com",
        "product_version": "2.1.0",
    }
    activated = call(server, credentials, "POST", "/v1/instance/activations", activation, jwks=jwks)
    assert activated.status == 201, activated.body
    report = {k: activation[k] for k in ("fingerprint", "server_name", "product_version")}

    def health() -> None:
        answer = requests.get(
            server.base_url + "/healthz", headers={"Connection": "close"}, timeout=REQUEST_TIMEOUT
        )
        assert answer.status_code == 200

    def check_in() -> None:
        body = json_body(report)
        signed = sign(credentials, "POST", "/v1/instance/check-ins", body, base_url=server.base_url)
        answer = requests.post(
            server.base_url + signed.path,
            data=body,
            headers={**signed.headers, "Connection": "close"},
            timeout=REQUEST_TIMEOUT,
        )
        verified = verify_response(
            answer.status_code,
            list(answer.headers.items()),
            answer.content,
            jwks,
            nonce=signed.nonce,
        )
        assert (answer.status_code, verified.body["code"]) == (200, "VALID"), verified.body

    port = int(server.base_url.rsplit(":", 1)[1])
    trickler = Trickler(port)
    trickler.start()
    healthz: list[float] = []
    check_ins: list[float] = []
    try:
        time.sleep(2.0)  # every slow client has sent a couple of bytes
        end = time.monotonic() + MEASURE_SECONDS
        while time.monotonic() < end:
            healthz.append(timed(health))
            check_ins.append(timed(check_in))
            time.sleep(0.05)
        trickling = trickler.thread.is_alive()  # it kept all 50 open, reopening dropped ones
    finally:
        trickler.stop()

    # Shown with -s, or when the test fails:
    print(
        f"p99 /healthz {p99(healthz):.3f} s, check-ins {p99(check_ins):.3f} s, {len(healthz)} each"
    )
    assert trickling
    assert len(healthz) >= 20, f"only {len(healthz)} rounds in {MEASURE_SECONDS} s"
    assert p99(healthz) < P99_LIMIT, sorted(healthz)[-5:]
    assert p99(check_ins) < P99_LIMIT, sorted(check_ins)[-5:]
