"""The console's one blueprint, at ``/staff``: its hooks, templates and static files.

Only this blueprint checks CSRF tokens: the instance and partner APIs authenticate
every request by signature or API key and carry no cookie to forge.
"""

from __future__ import annotations

from flask import Blueprint
from flask_wtf.csrf import CSRFError, CSRFProtect
from werkzeug.exceptions import Forbidden
from werkzeug.wrappers import Response

from licensing.console import auth, security
from licensing.extensions import db

csrf = CSRFProtect()
bp = Blueprint(
    "console",
    __name__,
    url_prefix="/staff",
    template_folder="templates",
    static_folder="static",
    static_url_path="/static",
)


@bp.before_request
def _protect() -> None:
    csrf.protect()  # every POST, PUT, PATCH and DELETE under /staff


@bp.after_request
def _commit(response: Response) -> Response:
    # One commit per request (a sign-in's failure count too); a server error keeps nothing.
    if response.status_code < 500:
        db.session.commit()
    else:
        db.session.rollback()
    return security.add_headers(response)


@bp.context_processor
def _role() -> dict[str, str | None]:
    # The masthead shows admins the admin pages; the views check the role regardless.
    staff = auth.current_staff()
    return {"console_role": staff.role if staff is not None else None}


bp.register_error_handler(CSRFError, security.csrf_refused)
bp.register_error_handler(Forbidden, security.forbidden)
