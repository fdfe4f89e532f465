"""gunicorn's own lines about bad requests name neither the client nor what it sent.

A real ``licensing serve`` at the default log level gets malformed requests (a bad
request line, an oversized header, invalid headers) from a distinctive client address,
carrying an e-mail address, a server name and a license-key-shaped string. gunicorn
refuses each one and says so in the log ("Invalid request ..."), but the log must not
contain the address or any of those values.
"""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator

import pytest

from tests.live import LiveServer, live_server

CLIENT_ADDRESS = "127.0.0.77"
EMAIL = "alice.private@example.com"
SERVER_NAME = "mail01.secret-customer.example"
KEY = "ABCDE-FGHJK-MNPQR-STVWX-YZ012"
MALFORMED = [
    # a bad request line
    f"GET /{EMAIL} HTTP/9.9\r\nHost: x\r\n\r\n".encode(),
    f"\x01{SERVER_NAME} / HTTP/1.1\r\nHost: x\r\n\r\n".encode(),
    # an oversized header (gunicorn's limit is 8,190 bytes a field)
    f"GET / HTTP/1.1\r\nHost: x\r\nX-Fill: {EMAIL}{'x' * 9000}\r\n\r\n".encode(),
    # invalid headers: a bad name, a bad value
    f"GET / HTTP/1.1\r\nHost: x\r\n{KEY}(): 1\r\n\r\n".encode(),
    f"GET / HTTP/1.1\r\nHost: x\r\nX-Name: {SERVER_NAME}\x00{KEY}\r\n\r\n".encode(),
    f"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: {EMAIL}\r\n\r\n".encode(),
]


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"LICENSING_LOG_LEVEL": "INFO"}  # the default level, not the tests' WARNING
    with live_server(tmp_path_factory.mktemp("log-privacy"), env=env) as running:
        yield running


def send_from(address: str, port: int, raw: bytes) -> bytes:
    """Send ``raw`` from a given loopback address (Linux accepts any of 127/8); the answer."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as client:
        client.settimeout(10)
        client.bind((address, 0))
        client.connect(("127.0.0.1", port))
        client.sendall(raw)
        answer = b""
        while chunk := client.recv(65536):
            answer += chunk
        return answer


def test_refused_requests_leave_no_client_details_in_the_log(server: LiveServer) -> None:
    port = int(server.base_url.rsplit(":", 1)[1])
    for raw in MALFORMED:
        answer = send_from(CLIENT_ADDRESS, port, raw)
        assert answer.startswith(b"HTTP/1.1 4"), (raw[:60], answer[:200])

    deadline = time.monotonic() + 10
    while (log := server.log.read_text(errors="replace")).count("Invalid request") < len(MALFORMED):
        assert time.monotonic() < deadline, log  # gunicorn logged every refusal
        time.sleep(0.1)
    for value in (CLIENT_ADDRESS, EMAIL, SERVER_NAME, KEY):
        assert value not in log, log
