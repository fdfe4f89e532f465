"""Why a request got no answer, in one short sentence.

``requests`` wraps the socket error in urllib3's exceptions, whose messages nest the
reprs of each layer ("HTTPConnectionPool(...): Max retries exceeded ... (Caused by
NewConnectionError('<...object at 0x7f...>: Failed to establish ...'))"). An operator
reading ``SERVER_UNREACHABLE`` needs the address and the cause, not the layers: this
walks the chain of causes down to the operating system's error and names that.
"""

from __future__ import annotations

import http.client
import socket
import ssl
from collections.abc import Iterator
from urllib.parse import urlsplit

import requests

_REASONS: tuple[tuple[type[BaseException], str], ...] = (
    (socket.gaierror, "host name not found"),
    (http.client.RemoteDisconnected, "the server closed the connection without answering"),
    (ConnectionRefusedError, "connection refused"),
    (ConnectionResetError, "connection reset"),
    (ConnectionAbortedError, "connection aborted"),
    (TimeoutError, "timed out"),
)


def describe_failure(error: requests.RequestException, base_url: str, timeout: float) -> str:
    """``could not connect to https://host:443: connection refused`` and the like."""
    target = _origin(base_url)
    if isinstance(error, requests.exceptions.ReadTimeout):
        return f"{target} did not answer within {timeout:g} s"
    if isinstance(error, requests.exceptions.ConnectTimeout):
        reason: str | None = f"timed out after {timeout:g} s"
    else:
        reason = next(filter(None, map(_reason, _causes(error))), None)
    return f"could not connect to {target}: {reason or _plain_message(error)}"


def _reason(cause: BaseException) -> str | None:
    """What the operating system (or TLS) said, as a few words; None if ``cause`` says none."""
    if isinstance(cause, ssl.SSLCertVerificationError):
        # Set only when OpenSSL raised it: a hand-made one has neither attribute.
        return (
            f"TLS certificate refused ({getattr(cause, 'verify_message', None) or 'not trusted'})"
        )
    if isinstance(cause, ssl.SSLError):
        return f"TLS failed ({getattr(cause, 'reason', None) or 'handshake'})"
    # The first matching kind wins: RemoteDisconnected is a ConnectionResetError.
    for kind, reason in _REASONS:
        if isinstance(cause, kind):
            return reason
    if isinstance(cause, OSError) and cause.strerror:
        return cause.strerror[:1].lower() + cause.strerror[1:]
    return None


def _causes(error: BaseException) -> Iterator[BaseException]:
    """The error and everything it wraps (causes, contexts, urllib3's ``reason``, args)."""
    seen: set[int] = set()
    pending: list[BaseException] = [error]
    while pending:
        current = pending.pop(0)
        if id(current) in seen:
            continue
        seen.add(id(current))
        yield current
        linked = [current.__cause__, current.__context__, getattr(current, "reason", None)]
        linked += list(current.args)
        pending += [item for item in linked if isinstance(item, BaseException)]


def _plain_message(error: BaseException) -> str:
    """The innermost short message that is not a repr; else the error's kind."""
    for cause in reversed(list(_causes(error))):
        text = str(cause).strip()
        if text and len(text) <= 80 and not any(c in text for c in "<>()"):
            return text
    return type(error).__name__


def _origin(base_url: str) -> str:
    """``scheme://host:port`` of the server, without credentials or path."""
    parts = urlsplit(base_url)
    host = parts.hostname or "?"
    if ":" in host:
        host = f"[{host}]"
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        port = 443 if parts.scheme == "https" else 80
    return f"{parts.scheme}://{host}:{port}"
