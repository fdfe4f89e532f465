"""The event loop of ``licensing serve``'s worker knows when a request has all arrived.

:class:`RequestBuffer` only frames a request (end of head, ``Content-Length``, chunk
sizes): whatever it cannot frame is passed on whole, for gunicorn's parser to refuse.
"""

from __future__ import annotations

import pytest

from licensing.gunicorn_framing import Reading, RequestBuffer

HEAD = b"POST /v1/instance/check-ins HTTP/1.1\r\nHost: x\r\n"


def fed(*parts: bytes, body_limit: int = 100, head_limit: int = 200) -> list[Reading]:
    buffer = RequestBuffer(head_limit=head_limit, body_limit=body_limit)
    return [buffer.feed(part) for part in parts]


def bytewise(data: bytes) -> tuple[bytes, ...]:
    return tuple(data[i : i + 1] for i in range(len(data)))


def test_a_head_without_body_is_whole_at_its_last_byte() -> None:
    request = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n"
    readings = fed(*bytewise(request))
    assert readings[-1] is Reading.WHOLE
    assert set(readings[:-1]) == {Reading.INCOMPLETE}


def test_a_sized_body_is_whole_when_all_of_it_arrived() -> None:
    request = HEAD + b"Content-Length: 5\r\n\r\nhello"
    readings = fed(*bytewise(request))
    assert readings[-1] is Reading.WHOLE
    assert set(readings[:-1]) == {Reading.INCOMPLETE}


def test_a_chunked_body_is_whole_after_the_last_chunk_and_trailers() -> None:
    request = (
        HEAD + b"Transfer-Encoding: chunked\r\n\r\n5;x=1\r\nhello\r\n3\r\nabc\r\n0\r\nT: 1\r\n\r\n"
    )
    readings = fed(*bytewise(request))
    assert readings[-1] is Reading.WHOLE
    assert set(readings[:-1]) == {Reading.INCOMPLETE}


def test_bytes_after_the_request_do_not_matter() -> None:
    pipelined = b"GET / HTTP/1.1\r\nHost: x\r\n\r\nGET /next HTTP/1.1\r\n"
    assert fed(pipelined) == [Reading.WHOLE]


def test_a_body_over_the_limit_is_not_waited_for() -> None:
    assert fed(HEAD + b"Content-Length: 101\r\n\r\n") == [Reading.BODY_TOO_LARGE]
    chunked = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"
    assert fed(chunked + b"40\r\n" + b"a" * 64 + b"\r\n40\r\n" + b"a" * 37) == [
        Reading.BODY_TOO_LARGE
    ]
    assert fed(chunked + b"1000\r\n", b"a" * 101) == [Reading.INCOMPLETE, Reading.BODY_TOO_LARGE]


def test_a_head_over_the_limit_is_refused() -> None:
    assert fed(HEAD, b"X: " + b"a" * 200) == [Reading.INCOMPLETE, Reading.HEAD_TOO_LARGE]


@pytest.mark.parametrize(
    "request_bytes",
    [
        HEAD + b"Content-Length: 5\r\nContent-Length: 5\r\n\r\n",
        HEAD + b"Content-Length: -1\r\n\r\n",
        HEAD + b"Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
        HEAD + b"Transfer-Encoding: gzip\r\n\r\n",
        HEAD + b"Transfer-Encoding: chunked\r\n\r\nzz\r\n",
        b"GET / HTTP/1.1\nHost: x\n\n",
    ],
    ids=["two lengths", "negative length", "length and chunked", "not chunked", "bad size", "LF"],
)
def test_what_cannot_be_framed_goes_to_the_parser_at_once(request_bytes: bytes) -> None:
    assert fed(request_bytes) == [Reading.WHOLE]


def test_an_expected_continue_is_noticed() -> None:
    buffer = RequestBuffer()
    assert buffer.feed(HEAD + b"Expect: 100-continue\r\nContent-Length: 2\r\n\r\n") is (
        Reading.INCOMPLETE
    )
    assert buffer.expects_continue
    assert buffer.feed(b"{}") is Reading.WHOLE
