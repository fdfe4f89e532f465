"""The gunicorn worker of ``licensing serve``: a thread sees a request only once it is whole.

gunicorn's gthread worker hands a connection to a thread as soon as its first byte arrives;
the thread then blocks reading the rest. A client that sends its head one byte a second
holds that thread for as long as it likes, and a few such clients hold every thread of
every worker (the sync worker is worse: one client stops a worker until the arbiter kills
it). Here the worker's event loop reads each request — head and body, up to the size the
application accepts — without blocking, and gives it to a thread only when it is whole.
A request not whole within :data:`REQUEST_DEADLINE` is dropped, and connections being read
count against a bound of their own (:data:`READING_LIMIT`), not against the small
``--worker-connections`` cap that balances served connections across workers.
docs/operations.md (the slow-client section) gives the figures and the limits.
"""

from __future__ import annotations

import contextlib
import errno
import selectors
import time
from enum import Enum
from functools import partial
from typing import Any

from gunicorn.workers.gthread import TConn, ThreadWorker

# A head larger than this is refused (431); gunicorn's own limits apply below it.
HEAD_LIMIT = 32 * 1024
# The application refuses larger bodies (MAX_CONTENT_LENGTH): no need to read further.
BODY_LIMIT = 64 * 1024
# Seconds a request may take from the moment the worker waits for it to its last byte.
REQUEST_DEADLINE = 10.0
# Connections one worker reads at once; beyond them, new ones wait in the listen queue.
READING_LIMIT = 500
RECV_SIZE = 64 * 1024

HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Connection: close\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n\r\n"
    b"Request header fields too large\n"
)
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Reading(Enum):
    INCOMPLETE = "incomplete"
    # Whole, or malformed in a way gunicorn's parser refuses from the bytes at hand.
    WHOLE = "whole"
    # The body is larger than the application accepts: it refuses it without reading on.
    BODY_TOO_LARGE = "body-too-large"
    HEAD_TOO_LARGE = "head-too-large"


class Step(Enum):
    READING = "reading"
    SERVE = "serve"
    CLOSE = "close"


class RequestBuffer:
    """The bytes of one request as they arrive, and whether they are all there yet.

    It reads only the framing (end of head, Content-Length, chunked sizes), never judges
    a request: anything it cannot frame is passed on for gunicorn's parser to refuse.
    """

    def __init__(self, *, head_limit: int = HEAD_LIMIT, body_limit: int = BODY_LIMIT) -> None:
        self.data = bytearray()
        self.head_limit = head_limit
        self.body_limit = body_limit
        self.expects_continue = False
        self._body_start = -1
        self._length: int | None = None  # Content-Length; None for a chunked body
        self._chunk_at = 0  # where the next chunk-size line starts
        self._payload = 0  # chunk bytes complete so far
        self._in_trailer = False

    @property
    def started(self) -> bool:
        return bool(self.data)

    @property
    def head_complete(self) -> bool:
        return self._body_start >= 0

    def feed(self, data: bytes) -> Reading:
        scanned = len(self.data)
        self.data += data
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
        return self._chunks()

    def _chunks(self) -> Reading:
        while (eol := self.data.find(b"\r\n", self._chunk_at)) >= 0:
            verdict = self._trailer_line(eol) if self._in_trailer else self._chunk(eol)
            if verdict is not None:
                return verdict
        if len(self.data) - self._chunk_at > self.head_limit:
            return Reading.WHOLE  # no line end in sight: refused by the parser
        return Reading.INCOMPLETE

    def _trailer_line(self, eol: int) -> Reading | None:
        if eol == self._chunk_at:  # the empty line after the last chunk
            return Reading.WHOLE
        self._chunk_at = eol + 2
        return None

    def _chunk(self, eol: int) -> Reading | None:
        try:
            size = int(bytes(self.data[self._chunk_at : eol]).split(b";", 1)[0].strip(), 16)
        except ValueError:
            return Reading.WHOLE  # refused by the parser
        if size == 0:
            self._in_trailer = True
            self._chunk_at = eol + 2
            return None
        end = eol + 2 + size + 2
        if len(self.data) < end:
            received = self._payload + len(self.data) - (eol + 2)
            return Reading.BODY_TOO_LARGE if received > self.body_limit else Reading.INCOMPLETE
        self._payload += size
        self._chunk_at = end
        return Reading.BODY_TOO_LARGE if self._payload > self.body_limit else None


class BufferedConn(TConn):  # type: ignore[misc]
    """A client connection, with the request the event loop is reading on it."""

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.buffer: RequestBuffer | None = None
        self.deadline = 0.0
        self.whole: bytes | None = None  # read by the event loop, for the parser
        self.body_unread = False  # the body was too large to read whole
        self.continued = False  # the event loop answered "100 Continue"


class BufferingWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with every request read whole by the event loop before a thread takes it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.reading: dict[BufferedConn, None] = {}  # in deadline order
        self._serving_cap = 0
        super().__init__(*args, **kwargs)

    # gthread accepts while nr_conns < worker_connections: connections still being read
    # are not counted against the cap, only against READING_LIMIT.
    @property
    def worker_connections(self) -> int:
        if len(self.reading) >= READING_LIMIT:
            return 0
        return self._serving_cap + len(self.reading)

    @worker_connections.setter
    def worker_connections(self, value: int) -> None:
        self._serving_cap = value

    def accept(self, listener: Any) -> None:
        try:
            client, address = listener.accept()
        except OSError as e:
            if e.errno not in (errno.EAGAIN, errno.ECONNABORTED, errno.EWOULDBLOCK):
                raise
            return
        self.nr_conns += 1
        self.enqueue_req(BufferedConn(self.cfg, client, address, listener.getsockname()))

    def enqueue_req(self, conn: BufferedConn) -> None:
        """Every way to a thread passes here: the event loop reads the request first."""
        conn.buffer = RequestBuffer()
        conn.deadline = time.monotonic() + REQUEST_DEADLINE
        conn.sock.setblocking(False)
        leftover = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        # Bytes of this request read with the last one, or already waiting on the socket.
        step = self._received(conn, leftover) if leftover else self._read(conn)
        if step is Step.READING:
            self.reading[conn] = None
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))
        else:
            self._leave(conn, step)

    def _readable(self, conn: BufferedConn, _sock: Any) -> None:
        step = self._read(conn)
        if step is not Step.READING:
            del self.reading[conn]
            self.poller.unregister(conn.sock)
            self._leave(conn, step)

    def _read(self, conn: BufferedConn) -> Step:
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return Step.READING
        except OSError:
            return Step.CLOSE
        if not data:  # the client went away
            return Step.CLOSE
        return self._received(conn, data)

    def _received(self, conn: BufferedConn, data: bytes) -> Step:
        buffer = conn.buffer
        assert buffer is not None
        reading = buffer.feed(data)
        if reading is Reading.INCOMPLETE:
            if buffer.expects_continue and buffer.head_complete and not conn.continued:
                conn.continued = True
                self._send(conn, CONTINUE)
            return Step.READING
        if reading is Reading.HEAD_TOO_LARGE:
            self._send(conn, HEAD_TOO_LARGE)
            return Step.CLOSE
        conn.whole, conn.buffer = bytes(buffer.data), None
        conn.body_unread = reading is Reading.BODY_TOO_LARGE
        return Step.SERVE

    def _leave(self, conn: BufferedConn, step: Step) -> None:
        """The connection is out of the event loop's hands: to a thread, or closed."""
        if step is Step.SERVE:
            conn.data_ready = True
            super().enqueue_req(conn)
        else:
            self.nr_conns -= 1
            conn.close()

    def _send(self, conn: BufferedConn, data: bytes) -> None:
        with contextlib.suppress(OSError):
            conn.sock.send(data)  # a few bytes: they fit the socket's buffer

    def murder_pending(self) -> None:
        """Drop requests past their deadline (and, when stopping, connections still silent)."""
        super().murder_pending()
        now = time.monotonic()
        for conn in list(self.reading):
            silent = conn.buffer is not None and not conn.buffer.started
            if conn.deadline <= now or (silent and not self.alive):
                del self.reading[conn]
                self.poller.unregister(conn.sock)
                self._leave(conn, Step.CLOSE)
            elif self.alive:
                break  # the rest have later deadlines

    def handle(self, conn: BufferedConn) -> Any:
        """In a thread: hand the bytes the event loop read to gunicorn's parser."""
        whole, conn.whole = conn.whole, None
        if whole:
            conn.sock.setblocking(True)
            conn.init()
            conn.parser.unreader.unread(whole)
        return super().handle(conn)

    def handle_request(self, req: Any, conn: BufferedConn) -> Any:
        if conn.continued:  # the client has its "100 Continue" already
            req._expected_100_continue = False
            conn.continued = False
        return super().handle_request(req, conn)

    def _keepalive_after(self, conn: BufferedConn, keepalive: bool) -> bool:
        if conn.body_unread:  # draining it would read at the client's pace
            return False
        return bool(super()._keepalive_after(conn, keepalive))
