"""What every console response carries: security headers, and pages for refusals.

The policy admits only this server's own files: no inline script or style, no other
origin, no framing. Pages work without any script at all.
"""

from __future__ import annotations

from flask import render_template
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

CONTENT_SECURITY_POLICY = (
    "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
)
HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    # same-origin, not no-referrer: Flask-WTF checks the Referer of a form posted over
    # HTTPS against the host, and that needs the browser to send it within the site.
    "Referrer-Policy": "same-origin",
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    # Pages show personal data: no shared or browser cache keeps them.
    "Cache-Control": "no-store",
}


def add_headers(response: Response) -> Response:
    for name, value in HEADERS.items():
        response.headers[name] = value
    return response


def csrf_refused(error: CSRFError) -> tuple[str, int]:
    """A form posted without a valid token: a page saying so, nothing done (400)."""
    return render_template(
        "console/errors/error.html",
        title="The form could not be accepted",
        detail="It expired or did not come from this site. Go back, reload the page and try again.",
    ), 400


def character_refused() -> tuple[str, int]:
    """A query or form holding a NUL: nothing read or done (400)."""
    return render_template(
        "console/errors/error.html",
        title="The request could not be accepted",
        detail="The request contained a character that is not allowed. Nothing was changed.",
    ), 400


def forbidden(error: Forbidden) -> tuple[str, int]:
    return render_template(
        "console/errors/error.html",
        title="Not allowed",
        detail="Your role does not allow this. Nothing was changed.",
    ), 403
