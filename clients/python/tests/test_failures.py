"""SERVER_UNREACHABLE says what failed in one short sentence, whatever requests wrapped."""

from __future__ import annotations

import http.client
import socket
import ssl

import pytest
import requests
from licensing_client._failures import describe_failure
from urllib3.exceptions import MaxRetryError, NewConnectionError, ProtocolError

URL = "https://user:secret@licensing.example.com/prefix"


def wrapped(cause: BaseException) -> requests.ConnectionError:
    """What requests raises: its error around urllib3's, around the socket's."""
    try:
        try:
            raise cause
        except OSError as exc:
            raise NewConnectionError(None, f"Failed to establish a new connection: {exc}") from exc
    except NewConnectionError as layer:
        retried = MaxRetryError(None, "/v1/instance/check-ins", reason=layer)  # type: ignore[arg-type]
        return requests.ConnectionError(retried)


def test_real_refusal_is_one_sentence() -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with pytest.raises(requests.ConnectionError) as raised:
        requests.get(f"http://127.0.0.1:{port}/", timeout=5)
    assert "Max retries exceeded" in str(raised.value)  # what used to be shown

    assert describe_failure(raised.value, f"http://127.0.0.1:{port}", 5) == (
        f"could not connect to http://127.0.0.1:{port}: connection refused"
    )


@pytest.mark.parametrize(
    ("error", "sentence"),
    [
        (wrapped(ConnectionRefusedError(111, "Connection refused")), "connection refused"),
        (wrapped(socket.gaierror(-2, "Name or service not known")), "host name not found"),
        (wrapped(OSError(101, "Network is unreachable")), "network is unreachable"),
        (
            requests.exceptions.SSLError(
                MaxRetryError(
                    None,  # type: ignore[arg-type]
                    "/",
                    reason=ssl.SSLCertVerificationError(1, "certificate verify failed"),
                )
            ),
            "TLS certificate refused (not trusted)",
        ),
        (
            requests.ConnectionError(
                ProtocolError(
                    "Connection aborted.",
                    http.client.RemoteDisconnected("Remote end closed connection"),
                )
            ),
            "the server closed the connection without answering",
        ),
        (requests.exceptions.ConnectTimeout("pool timeout"), "timed out after 2.5 s"),
        (requests.ConnectionError("refused"), "refused"),
        (requests.ConnectionError(), "ConnectionError"),
    ],
)
def test_the_cause_is_named_with_the_address_and_nothing_else(
    error: requests.RequestException, sentence: str
) -> None:
    described = describe_failure(error, URL, 2.5)

    assert described == f"could not connect to https://licensing.example.com:443: {sentence}"
    assert "secret" not in described


def test_a_server_that_does_not_answer_in_time() -> None:
    error = requests.exceptions.ReadTimeout("HTTPSConnectionPool(...): Read timed out.")
    assert describe_failure(error, "http://[::1]:8000", 10) == (
        "http://[::1]:8000 did not answer within 10 s"
    )
