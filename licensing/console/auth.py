"""Console sessions and the role each view requires.

A session is Flask's signed cookie holding the account id and two moments: when it
signed in (the absolute timeout, and ``sessions_valid_after`` to end it from the server)
and when it was last used (the idle timeout). The account is read on every request, so
a disabled account, a new role or a new password takes effect at the next click.
"""

from __future__ import annotations

import functools
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any, TypeVar
from urllib.parse import urlsplit

from flask import abort, flash, g, redirect, request, session, url_for
from werkzeug.wrappers import Response

from licensing import timeutil
from licensing.extensions import db
from licensing.models import StaffRole, StaffUser
from licensing.runtime import current
from licensing.services.staff import session_is_current

F = TypeVar("F", bound=Callable[..., Any])
SESSION_KEYS = ("staff_id", "signed_in_at", "seen_at")
EXPIRED = "Your session has ended; please sign in again."
_STAFF = "licensing.console.staff"
CSRF_TOKEN = "csrf_token"  # noqa: S105 - Flask-WTF's WTF_CSRF_FIELD_NAME (its default)


def requires(role: StaffRole) -> Callable[[F], F]:
    """The least role a view needs; declared once, next to its route."""

    def decorate(view: F) -> F:
        @functools.wraps(view)
        def guarded(*args: Any, **kwargs: Any) -> Any:
            staff = current_staff()
            if staff is None:
                return redirect(url_for("console.sign_in", next=_here()), code=303)
            if not StaffRole(staff.role).includes(role):
                abort(403)
            return view(*args, **kwargs)

        guarded.required_role = role  # type: ignore[attr-defined]
        return guarded  # type: ignore[return-value]

    return decorate


def public(view: F) -> F:
    """A view anyone may open (signing in): says so, as every other view names its role."""
    view.required_role = None  # type: ignore[attr-defined]
    return view


def start_session(staff: StaffUser) -> None:
    """A new session for a staff member who just signed in.

    Whatever the browser held before (a CSRF secret, anything planted) is dropped, so
    a session fixed before sign-in never becomes a signed-in one.
    """
    now = _now().timestamp()
    end_session()
    session.permanent = True
    session.update(staff_id=str(staff.id), signed_in_at=now, seen_at=now)


def end_session() -> None:
    session.clear()
    g.pop(CSRF_TOKEN, None)  # Flask-WTF's copy of the token of the session just dropped


def current_staff() -> StaffUser | None:
    """The signed-in staff member, or None (no session, timed out, or ended on the server)."""
    # Kept for the rest of the request in its WSGI environ (``g`` may outlive a request
    # where an application context is pushed around several, as in tests).
    if _STAFF not in request.environ:
        request.environ[_STAFF] = _load()
    found: StaffUser | None = request.environ[_STAFF]
    return found


def safe_next(target: str | None) -> str:
    """Where to go after signing in: a console path of this site, never another site."""
    default = url_for("console.home")
    if not target:
        return default
    parts = urlsplit(target)
    if parts.scheme or parts.netloc or not parts.path.startswith("/staff/"):
        return default
    if target.startswith("//") or "\\" in target:
        return default
    return target


def _load() -> StaffUser | None:
    if not all(key in session for key in SESSION_KEYS):
        return None
    console = current().settings.console
    now = _now()
    signed_in_at = datetime.fromtimestamp(float(session["signed_in_at"]), UTC)
    seen_at = datetime.fromtimestamp(float(session["seen_at"]), UTC)
    too_old = now - signed_in_at > timedelta(hours=console.session_hours)
    idle = now - seen_at > timedelta(minutes=console.idle_minutes)
    staff = None if too_old or idle else _account(session["staff_id"])
    if staff is None or not session_is_current(staff, signed_in_at):
        end_session()
        flash(EXPIRED)
        return None
    session["seen_at"] = now.timestamp()
    return staff


def _account(staff_id: str) -> StaffUser | None:
    try:
        return db.session.get(StaffUser, uuid.UUID(staff_id))
    except ValueError:
        return None


def _here() -> str:
    return request.full_path.rstrip("?") if request.method == "GET" else request.path


def _now() -> datetime:
    # Through the module, so that tests can move the clock.
    return timeutil.utcnow()


def redirect_home() -> Response:
    return redirect(url_for("console.home"), code=303)
