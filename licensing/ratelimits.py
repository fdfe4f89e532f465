"""Per-key rate limits for partners (Flask-Limiter; shared through Redis when configured).

Headers follow the IETF RateLimit fields: ``RateLimit-Limit``, ``RateLimit-Remaining``
and ``RateLimit-Reset`` (seconds until the window resets), plus ``Retry-After`` on 429.
"""

from __future__ import annotations

import time

from flask import Flask, Response, g, request
from flask_limiter import Limiter

DEFAULT_PARTNER_LIMIT = "60/minute"


def _partner_key() -> str:
    return f"partner-key:{g.partner.key_id}"


limiter = Limiter(key_func=_partner_key, headers_enabled=False, default_limits=[])


@limiter.request_filter
def _not_a_partner_request() -> bool:
    """Only partner endpoints have limits: every other request skips the limiter early."""
    return not request.path.startswith("/v1/partner/")


def init(app: Flask, *, storage_uri: str | None, default_limit: str) -> None:
    app.config["RATELIMIT_STORAGE_URI"] = storage_uri or "memory://"
    app.config["RATELIMIT_HEADERS_ENABLED"] = False
    app.config["LICENSING_PARTNER_DEFAULT_LIMIT"] = default_limit
    limiter.init_app(app)


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
