"""The event loop of ``licensing serve``'s worker knows when a request has all arrived.

:class:`RequestBuffer` only frames a request (end of head, ``Content-Length``, chunk
sizes): whatever it cannot frame is passed on whole, for gunicorn's parser to refuse.
"""

from __future__ import annotations

import pytest

from licensing.gunicorn_framing import (
    BODY_LIMIT,
    CHUNK_LINE_LIMIT,
    FRAMING_ALLOWANCE,
    HEAD_LIMIT,
    TRAILER_LIMIT,
    Reading,
    RequestBuffer,
)

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
    assert fed(chunked + b"40\r\n", b"a" * 64 + b"\r\n41\r\n") == [
        Reading.INCOMPLETE,
        Reading.BODY_TOO_LARGE,
    ]


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


CHUNKED = HEAD + b"Transfer-Encoding: chunked\r\n\r\n"


@pytest.mark.parametrize(
    "size_line", [b"100000", b"ffffffffffffffff", b"65;x=1"], ids=["1 MiB", "2**64-1", "101"]
)
def test_a_chunk_declared_over_the_limit_is_not_waited_for(size_line: bytes) -> None:
    buffer = RequestBuffer(head_limit=200, body_limit=100)
    assert buffer.feed(CHUNKED + size_line + b"\r\nabc") is Reading.BODY_TOO_LARGE


def test_chunks_declared_over_the_limit_together_are_not_waited_for() -> None:
    assert fed(CHUNKED + b"32\r\n" + b"a" * 50 + b"\r\n33\r\n") == [Reading.BODY_TOO_LARGE]


def test_a_chunked_body_over_the_limit_reaches_the_parser_one_byte_over_it() -> None:
    """The application refuses it from the bytes at hand (413), never waiting for more."""
    buffer = RequestBuffer(head_limit=200, body_limit=100)
    assert buffer.feed(CHUNKED + b"ffffffffffffffff\r\nabc") is Reading.BODY_TOO_LARGE
    assert buffer.request() == CHUNKED + b"65\r\n" + b"\0" * 101 + b"\r\n0\r\n\r\n"


def hold_at_most_the_limit(stream: bytes, *, piece: int = 4096) -> tuple[RequestBuffer, Reading]:
    """Feed ``stream`` as the worker does (at most ``room`` bytes a read) until a verdict."""
    buffer = RequestBuffer()
    at = 0
    reading = Reading.INCOMPLETE
    while reading is Reading.INCOMPLETE and at < len(stream):
        size = max(1, min(piece, buffer.room))
        reading = buffer.feed(stream[at : at + size])
        at += size
        assert len(buffer.data) <= buffer.limit
    return buffer, reading


def test_endless_trailers_are_refused_within_the_limit() -> None:
    stream = CHUNKED + b"2\r\n{}\r\n0\r\n" + b"X-T: a\r\n" * 200_000
    buffer, reading = hold_at_most_the_limit(stream)
    assert reading is Reading.TRAILERS_TOO_LARGE
    assert len(buffer.data) < len(CHUNKED) + 20 + TRAILER_LIMIT + 4096


def test_a_chunk_size_with_endless_leading_zeros_is_refused() -> None:
    stream = CHUNKED + (b"0" * 30_000 + b"1\r\na\r\n") * 1000
    buffer, reading = hold_at_most_the_limit(stream)
    assert reading is Reading.BAD_FRAMING
    assert len(buffer.data) < len(CHUNKED) + 4096 + CHUNK_LINE_LIMIT


def test_a_long_chunk_size_line_is_refused_byte_by_byte_too() -> None:
    buffer, reading = hold_at_most_the_limit(CHUNKED + b"0" * 1000, piece=1)
    assert reading is Reading.BAD_FRAMING
    assert len(buffer.data) == len(CHUNKED) + CHUNK_LINE_LIMIT + 1


def test_framing_beyond_the_allowance_is_too_large() -> None:
    """Tiny chunks carry five bytes of framing a byte: the body limit alone bounds nothing."""
    stream = CHUNKED + b"1\r\na\r\n" * 100_000
    buffer, reading = hold_at_most_the_limit(stream)
    assert reading is Reading.BODY_TOO_LARGE
    assert len(buffer.data) == buffer.limit == HEAD_LIMIT + BODY_LIMIT + FRAMING_ALLOWANCE


def test_a_buffer_takes_no_more_than_its_limit() -> None:
    buffer = RequestBuffer(head_limit=200, body_limit=100)
    buffer.feed(CHUNKED + b"1\r\na\r\n" * 10_000)
    assert len(buffer.data) == buffer.limit
