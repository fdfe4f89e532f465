"""Whether a request has all arrived, from its framing alone (for the worker's event loop).

Only the end of the head, ``Content-Length`` and the chunk sizes are read; the request is
never judged here. What cannot be framed is declared whole at once, so that gunicorn's
parser refuses it from the bytes at hand rather than wait for more.
"""

from __future__ import annotations

from enum import Enum

# A head larger than this is refused (431); gunicorn's own limits apply below it.
HEAD_LIMIT = 32 * 1024
# The application refuses larger bodies (MAX_CONTENT_LENGTH): no need to read further.
BODY_LIMIT = 64 * 1024
# A chunk-size line: 16 hex digits (the largest size there is) and a short extension.
# No client of this API sends extensions; every byte here is framing the body limit does
# not count, so a long line (30,000 leading zeros) is refused rather than buffered.
CHUNK_LINE_LIMIT = 64
# The trailer section of a chunked body (no client of this API sends trailers).
TRAILER_LIMIT = 4 * 1024
# Chunk-size lines and their line ends, and the trailers, beyond head and body: the
# hard cap of what one request may hold is the three limits together.
FRAMING_ALLOWANCE = 8 * 1024


class Reading(Enum):
    INCOMPLETE = "incomplete"
    # Whole, or malformed in a way gunicorn's parser refuses from the bytes at hand.
    WHOLE = "whole"
    # The body is larger than the application accepts: it refuses it without reading on.
    BODY_TOO_LARGE = "body-too-large"
    HEAD_TOO_LARGE = "head-too-large"
    # Trailers over TRAILER_LIMIT: refused (431) without reading on.
    TRAILERS_TOO_LARGE = "trailers-too-large"
    # A chunk-size line over CHUNK_LINE_LIMIT: refused (400) without reading on.
    BAD_FRAMING = "bad-framing"


class RequestBuffer:
    """The bytes of one request as they arrive, and whether they are all there yet.

    It reads only the framing (end of head, Content-Length, chunked sizes), never judges
    a request: anything it cannot frame is passed on for gunicorn's parser to refuse.
    It never holds more than :attr:`limit` bytes: a caller reads at most :attr:`room`.
    """

    def __init__(self, *, head_limit: int = HEAD_LIMIT, body_limit: int = BODY_LIMIT) -> None:
        self.data = bytearray()
        self.head_limit = head_limit
        self.body_limit = body_limit
        self.limit = head_limit + body_limit + FRAMING_ALLOWANCE
        self.expects_continue = False
        self._body_start = -1
        self._length: int | None = None  # Content-Length; None for a chunked body
        self._chunk_at = 0  # where the next chunk-size line starts
        self._payload = 0  # chunk bytes complete so far
        self._in_trailer = False
        self._trailer_start = 0
        self._chunked_too_large = False

    @property
    def started(self) -> bool:
        return bool(self.data)

    @property
    def room(self) -> int:
        """Bytes the buffer may still take before the request is too large to hold."""
        return max(0, self.limit - len(self.data))

    def request(self) -> bytes:
        """The bytes for gunicorn's parser once the buffer has a verdict.

        A chunked body over the limit reaches it as a body one byte over the limit,
        whatever size was declared or sent: the application then refuses it (413) from
        the bytes at hand, as it refuses a Content-Length over the limit unread.
        """
        if not self._chunked_too_large:
            return bytes(self.data)
        over = self.body_limit + 1
        return b"%s%x\r\n%s\r\n0\r\n\r\n" % (
            bytes(self.data[: self._body_start]),
            over,
            b"\0" * over,
        )

    @property
    def head_complete(self) -> bool:
        return self._body_start >= 0

    def feed(self, data: bytes) -> Reading:
        """The bytes received next (at most :attr:`room` of them), and the verdict."""
        scanned = len(self.data)
        self.data += data[: self.room]
        if self._body_start < 0:
            end = self.data.find(b"\r\n\r\n", max(0, scanned - 3))
            bare = self.data.find(b"\n\n", max(0, scanned - 1))
            if bare >= 0 and (end < 0 or bare < end):
                return Reading.WHOLE  # a bare LF: gunicorn refuses it
            if end < 0:
                if len(self.data) > self.head_limit:
                    return Reading.HEAD_TOO_LARGE
                return Reading.INCOMPLETE
            self._body_start = self._chunk_at = end + 4
            framed = self._frame(bytes(self.data[:end]))
            if framed is not None:
                return framed
        return self._body()

    def _frame(self, head: bytes) -> Reading | None:
        """Read the body's framing from the head; a verdict if the head settles it."""
        lengths: list[bytes] = []
        codings: list[bytes] = []
        for line in head.split(b"\r\n")[1:]:
            name, _, value = line.partition(b":")
            name = name.strip().lower()
            if name == b"content-length":
                lengths.append(value.strip())
            elif name == b"transfer-encoding":
                codings.extend(c.strip().lower() for c in value.split(b","))
            elif name == b"expect" and value.strip().lower() == b"100-continue":
                self.expects_continue = head.split(b"\r\n", 1)[0].endswith(b"HTTP/1.1")
        if codings:
            if lengths or codings[-1] != b"chunked":
                return Reading.WHOLE  # refused by the parser
            return None
        if not lengths:
            self._length = 0
        elif len(lengths) == 1 and lengths[0].isdigit():
            self._length = int(lengths[0])
            if self._length > self.body_limit:
                return Reading.BODY_TOO_LARGE
        else:
            return Reading.WHOLE  # refused by the parser
        return None

    def _body(self) -> Reading:
        if self._length is not None:
            if len(self.data) - self._body_start >= self._length:
                return Reading.WHOLE
            return Reading.INCOMPLETE
        verdict = self._chunks()
        if verdict is Reading.INCOMPLETE and not self.room:
            verdict = Reading.BODY_TOO_LARGE  # framing overhead beyond the allowance
        self._chunked_too_large = verdict is Reading.BODY_TOO_LARGE
        return verdict

    def _chunks(self) -> Reading:
        while (eol := self.data.find(b"\r\n", self._chunk_at)) >= 0:
            verdict = self._trailer_line(eol) if self._in_trailer else self._chunk(eol)
            if verdict is not None:
                return verdict
        # No line end yet: the line so far may already be too long.
        return self._line_too_long(len(self.data)) or Reading.INCOMPLETE

    def _line_too_long(self, eol: int) -> Reading | None:
        if self._in_trailer:
            if eol - self._trailer_start > TRAILER_LIMIT:
                return Reading.TRAILERS_TOO_LARGE
        elif eol - self._chunk_at > CHUNK_LINE_LIMIT:
            return Reading.BAD_FRAMING
        return None

    def _trailer_line(self, eol: int) -> Reading | None:
        if eol == self._chunk_at:  # the empty line after the last chunk
            return Reading.WHOLE
        if verdict := self._line_too_long(eol):
            return verdict
        self._chunk_at = eol + 2
        return None

    def _chunk(self, eol: int) -> Reading | None:
        if verdict := self._line_too_long(eol):
            return verdict
        try:
            size = int(bytes(self.data[self._chunk_at : eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return Reading.WHOLE  # refused by the parser
        if size == 0:
            self._in_trailer = True
            self._chunk_at = self._trailer_start = eol + 2
            return None
        if self._payload + size > self.body_limit:
            return Reading.BODY_TOO_LARGE  # declared over the limit: no need to wait for it
        end = eol + 2 + size + 2
        if len(self.data) < end:
            return Reading.INCOMPLETE
        self._payload += size
        self._chunk_at = end
        return None
