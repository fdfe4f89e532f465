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
import socket
import time
from collections.abc import Callable
from enum import Enum
from functools import partial
from typing import Any

from gunicorn import util
from gunicorn.workers.gthread import TConn, ThreadWorker

from licensing.gunicorn_framing import Reading, RequestBuffer

# Seconds a request may take from the moment the worker waits for it to its last byte.
REQUEST_DEADLINE = 10.0
# Connections one worker reads at once; beyond them, new ones wait in the listen queue.
READING_LIMIT = 500
# A new connection that has sent nothing yet counts against --worker-connections for this
# long: most clients send their request with the handshake, so the cap still keeps one
# worker from taking every new connection; one that stays silent stops counting.
FRESH_SECONDS = 0.05
RECV_SIZE = 64 * 1024
# A closed connection is read from until the client closes too, for at most this long
# and this many bytes (as gunicorn's own graceful close).
LINGER_SECONDS = 2.0
LINGER_DRAIN = 64 * 1024

HEAD_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Connection: close\r\nContent-Type: text/plain\r\nContent-Length: 32\r\n\r\n"
    b"Request header fields too large\n"
)
TRAILERS_TOO_LARGE = (
    b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
    b"Connection: close\r\nContent-Type: text/plain\r\nContent-Length: 27\r\n\r\n"
    b"Request trailers too large\n"
)
BAD_FRAMING = (
    b"HTTP/1.1 400 Bad Request\r\n"
    b"Connection: close\r\nContent-Type: text/plain\r\nContent-Length: 22\r\n\r\n"
    b"Invalid chunked body.\n"
)
# What the event loop answers itself, for a request it will not hold.
REFUSALS = {
    Reading.HEAD_TOO_LARGE: HEAD_TOO_LARGE,
    Reading.TRAILERS_TOO_LARGE: TRAILERS_TOO_LARGE,
    Reading.BAD_FRAMING: BAD_FRAMING,
}
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


class Step(Enum):
    """Where a connection goes after the event loop read from it."""

    READING = "reading"
    SERVE = "serve"
    CLOSE = "close"


class BufferedConn(TConn):  # type: ignore[misc]
    """A client connection, with the request the event loop is reading on it."""

    def __init__(self, *args: Any, linger: Callable[[BufferedConn], None]) -> None:
        super().__init__(*args)
        self.linger = linger
        self.buffer: RequestBuffer | None = None
        self.deadline = 0.0
        self.whole: bytes | None = None  # read by the event loop, for the parser
        self.body_unread = False  # the body was too large to read whole
        self.continued = False  # the event loop answered "100 Continue"
        self.drained = 0  # bytes read after the answer, while closing

    def close(self, graceful: bool = False) -> None:
        """gthread closes gracefully in its event loop, where waiting for the client to
        close its side (up to 2 s) would stop the loop: the worker lingers without waiting.
        """
        if graceful:
            self.linger(self)
        else:
            super().close()


class BufferingWorker(ThreadWorker):  # type: ignore[misc]
    """gthread, with every request read whole by the event loop before a thread takes it."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.reading: dict[BufferedConn, None] = {}  # in deadline order
        self.fresh: dict[BufferedConn, float] = {}  # silent so far: until when they count
        self.lingering: dict[BufferedConn, float] = {}  # answered and closing: until when
        self._serving_cap = 0
        super().__init__(*args, **kwargs)

    # gthread accepts while nr_conns < worker_connections: connections still being read
    # are not counted against the cap (unless fresh), only against READING_LIMIT.
    @property
    def worker_connections(self) -> int:
        if len(self.reading) >= READING_LIMIT:
            return 0
        now = time.monotonic()
        while self.fresh and next(iter(self.fresh.values())) <= now:
            del self.fresh[next(iter(self.fresh))]
        return self._serving_cap + len(self.reading) - len(self.fresh)

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
        conn = BufferedConn(self.cfg, client, address, listener.getsockname(), linger=self._linger)
        self.enqueue_req(conn)

    def enqueue_req(self, conn: BufferedConn) -> None:
        """Every way to a thread passes here: the event loop reads the request first."""
        conn.buffer = RequestBuffer()
        conn.deadline = time.monotonic() + REQUEST_DEADLINE
        conn.sock.setblocking(False)
        leftover = conn.parser.unreader.take_buffered() if conn.parser is not None else b""
        # Bytes of this request read with the last one, or already waiting on the socket.
        step = self._received(conn, leftover) if leftover else self._read(conn)
        if step is Step.READING:
            if not conn.buffer.started:
                self.fresh[conn] = time.monotonic() + FRESH_SECONDS
            self.reading[conn] = None
            self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._readable, conn))
        else:
            self._leave(conn, step)

    def _readable(self, conn: BufferedConn, _sock: Any) -> None:
        self.fresh.pop(conn, None)
        step = self._read(conn)
        if step is not Step.READING:
            del self.reading[conn]
            self.poller.unregister(conn.sock)
            self._leave(conn, step)

    def _read(self, conn: BufferedConn) -> Step:
        assert conn.buffer is not None
        try:
            # Never more than the buffer may hold: the rest stays in the socket.
            data = conn.sock.recv(max(1, min(RECV_SIZE, conn.buffer.room)))
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
        if reading in REFUSALS:
            self._send(conn, REFUSALS[reading])
            return Step.CLOSE
        conn.whole, conn.buffer = buffer.request(), None
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

    def _linger(self, conn: BufferedConn) -> None:
        """Close after the answer (RFC 9112 §9.6): half-close, then read what the client
        still sends until it closes, so that the kernel does not reset the connection
        under the answer. The reading happens in the event loop, as the client sends.
        """
        try:
            conn.sock.shutdown(socket.SHUT_WR)
            conn.sock.setblocking(False)
        except OSError:
            util.close(conn.sock)
            return
        if self._drained(conn):
            util.close(conn.sock)
            return
        self.lingering[conn] = time.monotonic() + LINGER_SECONDS
        self.poller.register(conn.sock, selectors.EVENT_READ, partial(self._lingering, conn))

    def _lingering(self, conn: BufferedConn, _sock: Any) -> None:
        if self._drained(conn):
            del self.lingering[conn]
            self.poller.unregister(conn.sock)
            util.close(conn.sock)

    def _drained(self, conn: BufferedConn) -> bool:
        """Read what has arrived; True once the client closed (or sent too much)."""
        try:
            data = conn.sock.recv(RECV_SIZE)
        except (BlockingIOError, InterruptedError):
            return False
        except OSError:
            return True
        conn.drained += len(data)
        return not data or conn.drained >= LINGER_DRAIN

    def murder_pending(self) -> None:
        """Drop requests past their deadline (and, when stopping, connections still silent)."""
        super().murder_pending()
        now = time.monotonic()
        for conn, until in list(self.lingering.items()):
            if until > now:
                break
            del self.lingering[conn]
            self.poller.unregister(conn.sock)
            util.close(conn.sock)
        for conn in list(self.reading):
            silent = conn.buffer is not None and not conn.buffer.started
            if conn.deadline <= now or (silent and not self.alive):
                del self.reading[conn]
                self.fresh.pop(conn, None)
                self.poller.unregister(conn.sock)
                self._leave(conn, Step.CLOSE)
            elif self.alive:
                break  # the rest have later deadlines

    def wait_for_and_dispatch_events(self, timeout: float) -> None:
        """Wake when a fresh connection stops counting: the worker may accept again."""
        if self.fresh:
            until = next(iter(self.fresh.values())) - time.monotonic()
            timeout = min(timeout, max(until, 0.0))
        super().wait_for_and_dispatch_events(timeout)

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
