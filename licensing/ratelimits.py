"""Per-key rate limits for partners (Flask-Limiter; shared through Redis when configured).

Headers follow the IETF RateLimit fields: ``RateLimit-Limit``, ``RateLimit-Remaining``
and ``RateLimit-Reset`` (seconds until the window resets), plus ``Retry-After`` on 429.
"""

from __future__ import annotations

import time
from functools import partial
from typing import Any

from flask import Flask, Response, g
from flask_limiter import Limiter

DEFAULT_PARTNER_LIMIT = "60/minute"
PARTNER_BLUEPRINT = "partner"


def _partner_key() -> str:
    return f"partner-key:{g.partner.key_id}"


limiter = Limiter(key_func=_partner_key, headers_enabled=False, default_limits=[])


def init(app: Flask, *, storage_uri: str | None, default_limit: str) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri or "memory://"
    app.config["RATELIMIT_HEADERS_ENABLED"] = False
    app.config["LICENSING_PARTNER_DEFAULT_LIMIT"] = default_limit
    limiter.init_app(app)
    _confine_to_blueprint(app, PARTNER_BLUEPRINT)


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
    current = limiter.current_limit
    if current is None:
        return response
    reset_in = max(0, int(current.reset_at - time.time()))
    response.headers["RateLimit-Limit"] = str(current.limit.amount)
    response.headers["RateLimit-Remaining"] = str(max(0, current.remaining))
    response.headers["RateLimit-Reset"] = str(reset_in)
    if response.status_code == 429:
        response.headers["Retry-After"] = str(max(1, reset_in))
    return response
