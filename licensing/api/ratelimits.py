"""Partner rate limits: per key, and failed authentications per client address.

Counted by Flask-Limiter in one storage shared by every worker: Redis when configured,
otherwise the ``rate_limit_counters`` table (storage/rate_counters.py) of the
application's PostgreSQL database (shared by every host too) or, for the embedded SQLite
database, of a counters file beside it in the instance folder (a counter in the main
file would wait for the write lock the partner request itself holds).

Headers follow the IETF RateLimit fields: ``RateLimit-Limit``, ``RateLimit-Remaining``
and ``RateLimit-Reset`` (seconds until the window resets), plus ``Retry-After`` on 429.
"""

from __future__ import annotations

import math
import time
from functools import cache, partial
from pathlib import Path
from typing import Any

from flask import Flask, Response, current_app, g, request
from flask_limiter import Limiter
from limits import RateLimitItem, parse
from sqlalchemy import Connection, Engine, create_engine

from licensing import metrics
from licensing.database import configure_engine, engine_options
from licensing.errors import LicensingError
from licensing.extensions import db
from licensing.runtime import current
from licensing.storage import rate_counters

DEFAULT_PARTNER_LIMIT = "60/minute"
DEFAULT_AUTH_FAILURE_LIMIT = "10/minute"
PARTNER_BLUEPRINT = "partner"
COUNTERS_FILE = "rate-limits.sqlite3"
_AUTH_FAILURES = "partner-auth-failures"
_RETRY_AFTER = "licensing.retry_after"


def _partner_key() -> str:
    return f"partner-key:{g.partner.key_id}"


limiter = Limiter(key_func=_partner_key, headers_enabled=False, default_limits=[])


class AuthenticationThrottled(LicensingError):
    """Too many failed authentications from one address: everything from it waits."""

    status = 429
    code = "RATE_LIMITED"
    title = "Too Many Requests"

    def __init__(self, retry_after: int) -> None:
        super().__init__(
            f"too many failed authentications from this address; retry after {retry_after} seconds"
        )
        self.retry_after = retry_after


def init(
    app: Flask,
    *,
    storage_uri: str | None,
    default_limit: str,
    auth_failure_limit: str = DEFAULT_AUTH_FAILURE_LIMIT,
    embedded: bool = False,
) -> None:
    # Flask-Limiter merges every app's storage options into the one extension's; a
    # process that builds several apps (tests, the CLI) must not hand the database
    # storage's options to Redis.
    limiter._storage_options = {}
    if storage_uri:
        app.config["RATELIMIT_STORAGE_URI"] = storage_uri
    else:
        app.config["RATELIMIT_STORAGE_URI"] = f"{rate_counters.SCHEME}://"
        app.config["RATELIMIT_STORAGE_OPTIONS"] = {
            "engine": _counters_engine,
            "create_table": embedded,
        }
    app.config["RATELIMIT_HEADERS_ENABLED"] = False
    app.config["LICENSING_PARTNER_DEFAULT_LIMIT"] = default_limit
    app.config["LICENSING_PARTNER_AUTH_FAILURE_LIMIT"] = auth_failure_limit
    limiter.init_app(app)
    _confine_to_blueprint(app, PARTNER_BLUEPRINT)


def _counters_engine() -> Engine:
    """The application's database, or for SQLite the counters file in the instance folder."""
    bind = db.session.get_bind()
    # A session bound to a connection (a caller's transaction) counts on its engine.
    engine = bind.engine if isinstance(bind, Connection) else bind
    if engine.dialect.name != "sqlite":
        return engine
    return _counters_file(Path(current_app.instance_path) / COUNTERS_FILE)


@cache
def _counters_file(path: Path) -> Engine:
    # Owner-only whatever the umask; SQLite gives its -wal and -shm files the same mode.
    path.touch(mode=0o600, exist_ok=True)
    url = f"sqlite:///{path}"
    engine = create_engine(url, **engine_options(url))
    configure_engine(engine)
    return engine


def begin_request() -> None:
    """Counters read in this request come from storage, not from a previous request's hit."""
    storage = limiter.storage
    if isinstance(storage, rate_counters.DatabaseCounters):
        storage.forget()


def refuse_if_throttled(client_ip: str | None) -> None:
    """Raise :class:`AuthenticationThrottled` once the address failed too often.

    Every request from the address is refused until the window ends, a valid key's
    too: were it answered, a guess that hits a real key would still stand out.
    """
    limit, who = _failure_limit(), _address(client_ip)
    if limiter.limiter.test(limit, _AUTH_FAILURES, who):
        return
    reset_at = limiter.limiter.get_window_stats(limit, _AUTH_FAILURES, who).reset_time
    retry_after = max(1, math.ceil(reset_at - rate_counters.clock()))
    request.environ[_RETRY_AFTER] = retry_after
    metrics.observe_partner_auth_throttled()
    raise AuthenticationThrottled(retry_after)


def count_failure(client_ip: str | None) -> None:
    """One more failed authentication from the address."""
    limiter.limiter.hit(_failure_limit(), _AUTH_FAILURES, _address(client_ip))


def _failure_limit() -> RateLimitItem:
    return parse(str(current_app.config["LICENSING_PARTNER_AUTH_FAILURE_LIMIT"]))


def _address(client_ip: str | None) -> str:
    """Whom the failures are counted for: a keyed hash, so no store holds the address."""
    if client_ip is None:
        return "unknown"
    return current().sealer.keyed_hash("rate-limit-address", client_ip.encode()).hex()[:32]


def _confine_to_blueprint(app: Flask, blueprint: str) -> None:
    """Run the limiter's request hooks for one blueprint's requests only.

    Flask-Limiter hooks every request of the application, and its hooks cost a
    measurable share of a check-in even when no limit applies. Only partner endpoints
    have limits, so the hooks move to the partner blueprint, first in its lists (where
    they ran before: application hooks run before a blueprint's).
    """
    for hooks in (app.before_request_funcs, app.after_request_funcs, app.teardown_request_funcs):
        everywhere: list[Any] = hooks.get(None, [])
        ours = [hook for hook in everywhere if _is_limiter_hook(hook)]
        if ours:
            hooks[None] = [hook for hook in everywhere if not _is_limiter_hook(hook)]
            hooks[blueprint] = ours + list(hooks.get(blueprint, []))


def _is_limiter_hook(hook: Any) -> bool:
    if isinstance(hook, partial):  # its after_request hook: partial(method, limiter)
        return bool(hook.args) and hook.args[0] is limiter
    return getattr(hook, "__self__", None) is limiter


def add_headers(response: Response) -> Response:
    """The current window's figures; on a 429 also when to retry."""
    throttled = request.environ.get(_RETRY_AFTER)
    if throttled is not None:  # refused before its key was looked at: no key's window
        response.headers["Retry-After"] = str(throttled)
        return response
    window = limiter.current_limit
    if window is None:
        return response
    reset_in = max(0, int(window.reset_at - time.time()))
    response.headers["RateLimit-Limit"] = str(window.limit.amount)
    response.headers["RateLimit-Remaining"] = str(max(0, window.remaining))
    response.headers["RateLimit-Reset"] = str(reset_in)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, reset_in))
    return response
