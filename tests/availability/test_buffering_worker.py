"""The worker of ``licensing serve`` reads requests whole and still speaks HTTP/1.1 fully.

Against a real server (SQLite, 2 workers x 2 threads, so that connections are kept
alive; with one thread they are closed after each answer): kept-alive and pipelined requests,
a chunked body, ``Expect: 100-continue``, a head over the limit, and connections whose
request never completes, which are closed once their time is up.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest
import requests

from licensing.gunicorn_framing import HEAD_LIMIT, TRAILER_LIMIT
from licensing.gunicorn_worker import REQUEST_DEADLINE
from tests.live import LiveServer, live_server

HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
LAST_HEALTHZ = b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("worker"), threads=2) as running:
        yield running


def connect(server: LiveServer) -> socket.socket:
    port = int(server.base_url.rsplit(":", 1)[1])
    connection = socket.create_connection(("127.0.0.1", port), timeout=10)
    return connection


def read_all(connection: socket.socket) -> bytes:
    answer = b""
    while chunk := connection.recv(65536):
        answer += chunk
    return answer


def test_kept_alive_and_pipelined_requests(server: LiveServer) -> None:
    with connect(server) as connection:
        connection.sendall(HEALTHZ)
        first = connection.recv(65536)
        assert first.startswith(b"HTTP/1.1 200 "), first
        connection.sendall(HEALTHZ + HEALTHZ + LAST_HEALTHZ)  # three in one write
        rest = read_all(connection)
    assert rest.count(b"HTTP/1.1 200 ") == 3, rest


def test_a_chunked_body_reaches_the_application(server: LiveServer) -> None:
    body = b'{"license_key": "x"}'
    with connect(server) as connection:
        connection.sendall(
            b"POST /v1/partner/license-checks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        time.sleep(0.2)  # the body arrives later, in two chunks
        connection.sendall(b"%x\r\n%s\r\n" % (10, body[:10]))
        connection.sendall(b"%x\r\n%s\r\n0\r\n\r\n" % (len(body) - 10, body[10:]))
        answer = read_all(connection)
    assert answer.startswith(b"HTTP/1.1 401 "), answer  # the application's: no API key
    assert b"X-Request-Id: " in answer, answer


def test_a_client_expecting_100_continue_gets_it_once(server: LiveServer) -> None:
    with connect(server) as connection:
        connection.sendall(
            b"POST /v1/partner/license-checks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
            b"Content-Type: application/json\r\nExpect: 100-continue\r\nContent-Length: 2\r\n\r\n"
        )
        interim = connection.recv(65536)
        assert interim == b"HTTP/1.1 100 Continue\r\n\r\n", interim
        connection.sendall(b"{}")
        answer = read_all(connection)
    assert answer.startswith(b"HTTP/1.1 401 "), answer
    assert b"100 Continue" not in answer, answer


def test_a_head_over_the_limit_is_refused(server: LiveServer) -> None:
    with connect(server) as connection:
        connection.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nX-Big: " + b"a" * HEAD_LIMIT)
        answer = read_all(connection)
    assert answer.startswith(b"HTTP/1.1 431 "), answer


def test_a_request_that_never_completes_is_dropped_in_time(server: LiveServer) -> None:
    silent, trickling = connect(server), connect(server)
    with silent, trickling:
        started = time.monotonic()
        for byte in bytewise(b"GET /healthz HTTP/1.1\r\nHost: x\r\n"):
            trickling.sendall(byte)
            if time.monotonic() - started > REQUEST_DEADLINE - 2:
                break
            time.sleep(0.5)
        for connection in (silent, trickling):
            connection.settimeout(REQUEST_DEADLINE + 5 - (time.monotonic() - started))
            assert read_all(connection) == b""  # closed by the server, without an answer
        assert time.monotonic() - started < REQUEST_DEADLINE + 3


def test_clients_that_do_not_close_after_their_answer_stall_no_one(server: LiveServer) -> None:
    # Each worker closes these after the answer and waits for the client to close too;
    # gunicorn's gthread waits in its event loop, up to 2 s a connection.
    holders = [connect(server) for _ in range(6)]
    try:
        for holder in holders:
            holder.sendall(LAST_HEALTHZ)
        time.sleep(0.5)  # answered, and waiting for these clients to close
        started = time.monotonic()
        answer = requests.get(server.base_url + "/healthz", timeout=10)
        elapsed = time.monotonic() - started
    finally:
        for holder in holders:
            holder.close()
    assert answer.status_code == 200
    assert elapsed < 1.0, elapsed


def bytewise(data: bytes) -> list[bytes]:
    return [data[i : i + 1] for i in range(len(data))]


CHUNKED_CHECK = (
    b"POST /v1/partner/license-checks HTTP/1.1\r\nHost: x\r\nConnection: close\r\n"
    b"Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
)


@pytest.mark.parametrize("size_line", [b"100000", b"ffffffffffffffff"], ids=["1 MiB", "2**64-1"])
def test_a_chunk_declared_over_the_limit_is_refused_at_once(
    server: LiveServer, size_line: bytes
) -> None:
    with connect(server) as connection:
        connection.settimeout(2)
        started = time.monotonic()
        connection.sendall(CHUNKED_CHECK + size_line + b"\r\nabc")  # and then nothing
        answer = read_all(connection)
        elapsed = time.monotonic() - started
    assert answer.startswith(b"HTTP/1.1 413 "), answer  # the application's problem
    assert b"application/problem+json" in answer, answer
    assert elapsed < 2, elapsed


def test_endless_trailers_are_refused(server: LiveServer) -> None:
    trailers = b"X-T: a\r\n" * (TRAILER_LIMIT // 8 + 1)  # over the limit, and no end
    with connect(server) as connection:
        connection.settimeout(5)
        # One write, then nothing: what the server did not read would reset the answer.
        connection.sendall(CHUNKED_CHECK + b"2\r\n{}\r\n0\r\n" + trailers)
        answer = read_all(connection)
    assert answer.startswith(b"HTTP/1.1 431 "), answer
