"""Per-request plumbing: the request id, the caller's address, the URL as sent, the
access log line and request metrics."""

from __future__ import annotations

import ipaddress
import logging
import re
import time
import uuid

from flask import Flask, Request, Response, g, has_request_context, request
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface

from licensing import metrics

log = logging.getLogger("licensing.access")
_GOOD_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{8,64}$")


def request_id() -> str:
    """The id of the request in context: the caller's if well-formed, else a new one."""
    if not has_request_context():
        return uuid.uuid4().hex
    if "request_id" not in g:
        given = request.headers.get("X-Request-Id", "")
        g.request_id = given if _GOOD_REQUEST_ID.match(given) else uuid.uuid4().hex
    return str(g.request_id)


def client_ip(trusted_hops: int) -> str | None:
    """The TCP peer, or the address ``trusted_hops`` proxies saw (never the client's word)."""
    address = request.environ.get("REMOTE_ADDR")
    if trusted_hops > 0:
        forwarded = [a.strip() for a in request.headers.get("X-Forwarded-For", "").split(",")]
        forwarded = [a for a in forwarded if a]
        if len(forwarded) >= trusted_hops:
            address = forwarded[-trusted_hops]
    try:
        parsed = ipaddress.ip_address(address) if address else None
    except ValueError:
        return None
    if isinstance(parsed, ipaddress.IPv6Address) and parsed.ipv4_mapped is not None:
        parsed = parsed.ipv4_mapped  # a dual-stack listener's view of an IPv4 client
    return str(parsed) if parsed is not None else None


def request_url() -> str:
    """The request's URL with its path exactly as sent (what a signature covers)."""
    # gunicorn and Werkzeug keep the raw request line.
    raw = request.environ.get("RAW_URI") or request.environ.get("REQUEST_URI")
    if not raw:
        raw = request.environ.get("SCRIPT_NAME", "") + request.environ.get("PATH_INFO", "")
        if request.query_string:
            raw += "?" + request.query_string.decode("latin-1")
    return f"{request.scheme}://{request.host}{raw}"


def _route() -> str:
    # The route's rule, never the raw path: bounded metric labels, no ids or secrets in logs.
    return request.url_rule.rule if request.url_rule is not None else "<unmatched>"


def _start() -> None:
    g.started = time.perf_counter()
    # ``g`` belongs to the app context, which outlives one request when a context was
    # already pushed (tests, embedding): never inherit the previous request's id.
    g.pop("request_id", None)
    request_id()


def _finish(response: Response) -> Response:
    response.headers["X-Request-Id"] = request_id()
    elapsed = time.perf_counter() - g.get("started", time.perf_counter())
    route = _route()
    metrics.observe_request(request.method, route, response.status_code, elapsed)
    log.info(
        "request",
        extra={
            "request_id": request_id(),
            "method": request.method,
            "route": route,
            "status": response.status_code,
            "duration_ms": round(elapsed * 1000, 2),
        },
    )
    return response


class _CookieFreeSessions(SecureCookieSessionInterface):
    """Flask's signed-cookie sessions, opened at no cost for a request without the cookie.

    Flask opens a session for every request; building the signing serializer each time
    was a measurable share of a check-in, and API clients never send the cookie.
    """

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        if app.secret_key and (
            "HTTP_COOKIE" not in request.environ  # no Cookie header: nothing to parse
            or self.get_cookie_name(app) not in request.cookies
        ):
            return self.session_class()
        return super().open_session(app, request)


def register(app: Flask) -> None:
    app.session_interface = _CookieFreeSessions()
    app.before_request(_start)
    app.after_request(_finish)
