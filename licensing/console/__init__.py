"""The staff console: server-rendered pages at ``/staff`` for internal staff.

What it is and what each role may do: docs/console.md.
"""

from __future__ import annotations

from datetime import timedelta

from flask import Flask

from licensing.config import ConsoleSettings


def register(app: Flask, console: ConsoleSettings) -> None:
    """Session cookie, CSRF and the console's routes, on ``app``."""
    from licensing.console import views
    from licensing.console.blueprint import bp, csrf

    app.config.update(
        SESSION_COOKIE_NAME="licensing_staff",
        # The API never sees the cookie: it is sent to the console's paths only.
        SESSION_COOKIE_PATH="/staff",
        SESSION_COOKIE_SECURE=console.secure_cookie,
        SESSION_COOKIE_HTTPONLY=True,
        SESSION_COOKIE_SAMESITE="Lax",
        PERMANENT_SESSION_LIFETIME=timedelta(hours=console.session_hours),
        # The token lives as long as a session may; the session's timeouts end both.
        WTF_CSRF_TIME_LIMIT=console.session_hours * 3600,
        # Checked by the console's blueprint only (console/blueprint.py), never app-wide.
        WTF_CSRF_CHECK_DEFAULT=False,
    )
    csrf.init_app(app)
    assert views.__all__  # importing the views adds their routes to the blueprint
    app.register_blueprint(bp)
