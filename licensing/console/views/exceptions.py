"""Declaring and ending misuse exceptions from a case's page (analysts and admins)."""

from __future__ import annotations

from datetime import UTC, datetime, time

from flask import flash, redirect, url_for
from werkzeug.wrappers import Response

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.forms import CaseNoteForm, ExceptionForm
from licensing.console.lookup import attempt
from licensing.console.views.misuse import find_case
from licensing.errors import NotFound
from licensing.extensions import db
from licensing.misuse.findings import Rule
from licensing.models import License, StaffRole
from licensing.services import misuse_exceptions
from licensing.services.misuse_exceptions import ExceptionKind
from licensing.timeutil import utcnow


@bp.route("/misuse/<case_id>/exceptions", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def misuse_exception_declare(case_id: str) -> Response:
    form = ExceptionForm()
    staff = auth.current_staff()
    assert staff is not None
    case = find_case(case_id)
    back = redirect(url_for("console.misuse_case", case_id=case_id), code=303)
    if not form.validate_on_submit():
        flash("Not declared: choose a kind, give the end date and the reason.")
        return back
    # The exception holds until the end of the day given (UTC).
    ends_at = datetime.combine(form.until.data, time.max, tzinfo=UTC)
    attempt(
        lambda: misuse_exceptions.declare(
            db.session(),
            license=db.session.get_one(License, case.license_id),
            rule=Rule(case.rule),
            kind=ExceptionKind(form.kind.data),
            reason=form.reason.data or "",
            ends_at=ends_at,
            actor=f"staff:{staff.id}",
            now=utcnow(),
        ),
        done="Exception declared: the rule stays quiet on this evidence until it ends.",
        refused="Not declared",
    )
    return back


@bp.route("/misuse/<case_id>/exceptions/<exception_id>/end", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def misuse_exception_end(case_id: str, exception_id: str) -> Response:
    staff = auth.current_staff()
    assert staff is not None
    back = redirect(url_for("console.misuse_case", case_id=case_id), code=303)
    if not CaseNoteForm().validate_on_submit():
        flash("Not ended: the form could not be read.")
        return back
    case = find_case(case_id)

    def end() -> None:
        exception = misuse_exceptions.find_exception(db.session(), exception_id)
        if exception.license_id != case.license_id or exception.rule != case.rule:
            raise NotFound("no such exception on this case")
        misuse_exceptions.end(db.session(), exception, actor=f"staff:{staff.id}", now=utcnow())

    attempt(
        end, done="Exception ended: the rule speaks again from the next scan.", refused="Not ended"
    )
    return back
