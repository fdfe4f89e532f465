"""One license's page, and the actions an admin takes on it.

Each action locks the license's row for the request and goes through the services the
``licensing license`` commands use; a refused transition comes back as a flash message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response

from licensing.console import auth, charts
from licensing.console.blueprint import bp
from licensing.console.forms import ExtendForm, LicenseReasonForm, RenewForm, SeatReleaseForm
from licensing.console.lookup import attempt, first_error, uuid_or_404
from licensing.errors import Conflict, NotFound
from licensing.extensions import db
from licensing.models import ApprovalAction, License, StaffRole
from licensing.runtime import current
from licensing.services import activations, approvals, legal_holds, licenses
from licensing.services import console_license as read_model
from licensing.services import misuse_case_queries as misuse_cases
from licensing.services import personal_data_reveal as reveal
from licensing.services.personal_data_reveal import Revealed
from licensing.timeutil import utcnow

# An action: the locked license, the validated form, and the actor it is done as.
Action = Callable[[License, Any, str], object]


@bp.route("/licenses/<license_id>")
@auth.requires(StaffRole.VIEWER)
def license_page(license_id: str) -> Any:
    return render_license(uuid_or_404(license_id))


def render_license(license_id: uuid.UUID, revealed: Revealed | None = None) -> str:
    """The license page; with ``revealed``, the raw usage an audited reveal just read."""
    session = db.session()
    try:
        page = read_model.license_page(session, current().sealer, license_id, now=utcnow())
    except NotFound:
        abort(404)
    staff = auth.current_staff()
    assert staff is not None  # requires() let the request in
    role = StaffRole(staff.role)
    days = charts.fill_days(page.check_ins, page.first_day, page.last_day)
    # The cases an analyst may name as the purpose of a reveal (an admin needs none).
    purposes = [
        c
        for c in misuse_cases.list_cases(session, license_id=license_id)
        if reveal.is_reveal_purpose(c)
    ]
    return render_template(
        "console/licenses/license.html",
        page=page,
        facts=page.facts,
        # charts.py escapes every label: its SVG text is safe to embed as it is.
        timeline=Markup(  # noqa: S704
            charts.daily_bars(
                days,
                label=f"Check-ins per day, last {read_model.TIMELINE_DAYS} days",
                unit="check-ins",
            )
        ),
        may_act=role.includes(StaffRole.ADMIN),
        may_reveal=role.includes(StaffRole.ADMIN)
        or (role.includes(StaffRole.ANALYST) and bool(purposes)),
        purposes=purposes,
        revealed=revealed,
        four_eyes=current().settings.four_eyes,
        pending_revocation=approvals.pending_for(
            session, ApprovalAction.REVOKE_LICENSE, license_id
        ),
        holds=legal_holds.holds_keeping(session, license_id),
        reason_form=LicenseReasonForm(formdata=None),
        seat_form=SeatReleaseForm(formdata=None),
        renew_form=RenewForm(formdata=None),
        extend_form=ExtendForm(formdata=None),
    )


def _act(license_id: str, form: FlaskForm, action: Action, done: str) -> Response:
    """Run ``action`` on the locked license if ``form`` is valid; flash what came of it."""
    staff = auth.current_staff()
    assert staff is not None
    license = db.session.get(
        License, uuid_or_404(license_id), with_for_update=True, populate_existing=True
    )
    if license is None:
        abort(404)
    if not form.validate_on_submit():
        flash(f"Not done: {_problem(form)}.")
    else:
        attempt(lambda: action(license, form, f"staff:{staff.id}"), done=done)
    return redirect(url_for("console.license_page", license_id=license.id), code=303)


def _problem(form: FlaskForm) -> str:
    problem = first_error(form)
    if problem is None:
        return "the form was incomplete"
    label, message = problem
    return f"{label.lower()}: {message.rstrip('.').lower()}"


def _unchanged(shown: object, locked: datetime | None) -> None:
    """Refuse when the date the page showed is not the locked row's: a double submit, or
    another admin's change in between, must not renew or extend a second time."""
    if str(shown or "") != (locked.isoformat() if locked is not None else ""):
        raise Conflict("the license changed since the page was shown; reload it")


def _reason(form: Any) -> str:
    return str(form.reason.data).strip()


@bp.route("/licenses/<license_id>/suspend", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def license_suspend(license_id: str) -> Response:
    return _act(
        license_id,
        LicenseReasonForm(),
        lambda lic, form, who: licenses.suspend(db.session(), lic, reason=_reason(form), actor=who),
        "License suspended.",
    )


@bp.route("/licenses/<license_id>/reinstate", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def license_reinstate(license_id: str) -> Response:
    return _act(
        license_id,
        LicenseReasonForm(),
        lambda lic, form, who: licenses.reinstate(
            db.session(), lic, reason=_reason(form), actor=who
        ),
        "License reinstated.",
    )


@bp.route("/licenses/<license_id>/revoke", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def license_revoke(license_id: str) -> Response:
    # Revoking cannot be undone: under four eyes it becomes a request a second admin
    # decides on the approvals page (services/approvals.py).
    if current().settings.four_eyes:
        return _act(license_id, LicenseReasonForm(), _request_revocation, _REQUESTED)
    return _act(
        license_id,
        LicenseReasonForm(),
        lambda lic, form, who: licenses.revoke(
            db.session(),
            lic,
            reason=_reason(form),
            actor=who,
            four_eyes=current().settings.four_eyes,
        ),
        "License revoked.",
    )


_REQUESTED = "Revocation requested: it happens when a second admin approves it (Approvals)."


def _request_revocation(license: License, form: Any, actor: str) -> object:
    staff = auth.current_staff()
    assert staff is not None
    return approvals.request_revocation(
        db.session(), license, reason=_reason(form), requested_by=staff, now=utcnow()
    )


@bp.route("/licenses/<license_id>/release-seat", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def license_release_seat(license_id: str) -> Response:
    return _act(
        license_id,
        SeatReleaseForm(),
        lambda lic, form, who: activations.release_seat(
            db.session(),
            lic,
            str(form.activation.data),
            reason=_reason(form),
            actor=who,
            now=utcnow(),
        ),
        "Seat released: that instance must activate again.",
    )


@bp.route("/licenses/<license_id>/renew", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def license_renew(license_id: str) -> Response:
    return _act(
        license_id,
        RenewForm(),
        _renew,
        "Upgrade protection renewed.",
    )


def _renew(license: License, form: Any, actor: str) -> object:
    _unchanged(form.current.data, license.upgrade_protection_until)
    return licenses.renew_upgrade_protection(
        db.session(), license, actor=actor, months=int(form.months.data), now=utcnow()
    )


@bp.route("/licenses/<license_id>/extend", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def license_extend(license_id: str) -> Response:
    return _act(
        license_id,
        ExtendForm(),
        _extend,
        "Term extended.",
    )


def _extend(license: License, form: Any, actor: str) -> object:
    _unchanged(form.current.data, license.expires_at)
    return licenses.extend_term(
        db.session(), license, actor=actor, days=int(form.days.data), now=utcnow()
    )
