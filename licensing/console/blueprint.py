"""The console's one blueprint, at ``/staff``: its hooks, templates and static files.

Only this blueprint checks CSRF tokens: the instance and partner APIs authenticate
every request by signature or API key and carry no cookie to forge.
"""

from __future__ import annotations

from flask import Blueprint, request
from flask_wtf.csrf import CSRFError, CSRFProtect
from sqlalchemy import event
from sqlalchemy.orm import Session
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from licensing.console import auth, security
from licensing.extensions import db
from licensing.models import License
from licensing.runtime import current

csrf = CSRFProtect()
# Where a console request's session notes the licenses it changed (see _forget_cached).
_CHANGED = "licensing.console.licenses_changed"
bp = Blueprint(
    "console",
    __name__,
    url_prefix="/staff",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.before_request
def _protect() -> tuple[str, int] | None:
    # Before the token check: a NUL is refused the same way with or without a valid
    # token, and a NUL in the token field itself is not reported as an expired form.
    if _holds_nul():
        return security.character_refused()
    csrf.protect()  # every POST, PUT, PATCH and DELETE under /staff
    db.session().info[_CHANGED] = set()
    return None


def _holds_nul() -> bool:
    """Whether a query or form name or value holds a NUL.

    PostgreSQL refuses a NUL in any text (a 500 from the first query that binds it,
    the sign-in's look-up included); SQLite would store it. One check here, before any
    view reads the input, rather than one per field. Not the API's
    ``documents.text_problem``: the console may not import the API (the layers
    contract), and its other case, a lone surrogate, cannot reach here, since
    Werkzeug decodes queries and forms as UTF-8 with replacement.
    """
    pairs = [*request.args.items(multi=True), *request.form.items(multi=True)]
    return any("\x00" in text for pair in pairs for text in pair)


@bp.after_request
def _commit(response: Response) -> Response:
    # One commit per request (a sign-in's failure count too); a server error keeps nothing.
    if response.status_code < 500:
        db.session.flush()
        touched = _licenses_in(db.session())
        db.session.commit()
        _forget_cached(touched)
    else:
        db.session.rollback()
    return security.add_headers(response)


def _licenses_in(session: Session) -> set[str]:
    """Key ids of the licenses this request changed (noted at each flush)."""
    changed: set[str] = session.info.pop(_CHANGED, set())
    return changed


@event.listens_for(Session, "after_flush")
def _note_changed_licenses(session: Session, _context: object) -> None:
    # Console requests only (the marker is set by _protect): the API's flushes skip this.
    if _CHANGED in session.info:
        session.info[_CHANGED].update(
            obj.key_id for obj in session.dirty if isinstance(obj, License)
        )


def _forget_cached(key_ids: set[str]) -> None:
    # A console request runs in a worker that also serves check-ins: once a suspension
    # (or any change) is committed, this worker answers from the database at once rather
    # than from its cached state; other workers within LICENSING_CACHE_TTL, as before.
    cache = current().licenses
    for key_id in key_ids:
        cache.discard(key_id)


@bp.context_processor
def _role() -> dict[str, str | None]:
    # The masthead shows admins the admin pages; the views check the role regardless.
    staff = auth.current_staff()
    return {"console_role": staff.role if staff is not None else None}


bp.register_error_handler(CSRFError, security.csrf_refused)
bp.register_error_handler(Forbidden, security.forbidden)
