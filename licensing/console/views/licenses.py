"""One license's page, and the actions an admin takes on it.

Each action locks the license's row for the request and goes through the services the
``licensing license`` commands use; a refused transition comes back as a flash message.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from markupsafe import Markup
from werkzeug.wrappers import Response

from licensing.console import auth, charts
from licensing.console.blueprint import bp
from licensing.console.forms import ExtendForm, LicenseReasonForm, RenewForm, SeatReleaseForm
from licensing.errors import LicensingError, NotFound
from licensing.extensions import db
from licensing.models import License, StaffRole
from licensing.runtime import current
from licensing.services import activations, licenses
from licensing.services import console_license as read_model
from licensing.timeutil import utcnow

# An action: the locked license, the validated form, and the actor it is done as.
Action = Callable[[License, Any, str], object]


def _id(license_id: str) -> uuid.UUID:
    try:
        return uuid.UUID(license_id)
    except ValueError:
        abort(404)


@bp.route("/licenses/<license_id>")
@auth.requires(StaffRole.VIEWER)
def license_page(license_id: str) -> Any:
    try:
        page = read_model.license_page(
            db.session(), current().sealer, _id(license_id), now=utcnow()
        )
    except NotFound:
        abort(404)
    staff = auth.current_staff()
    assert staff is not None  # requires() let the request in
    days = charts.fill_days(page.check_ins, page.first_day, page.last_day)
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
        may_act=StaffRole(staff.role).includes(StaffRole.ADMIN),
        reason_form=LicenseReasonForm(formdata=None),
        seat_form=SeatReleaseForm(formdata=None),
        renew_form=RenewForm(formdata=None),
        extend_form=ExtendForm(formdata=None),
    )


def _act(license_id: str, form: FlaskForm, action: Action, done: str) -> Response:
    """Run ``action`` on the locked license if ``form`` is valid; flash what came of it."""
    staff = auth.current_staff()
    assert staff is not None
    license = db.session.get(License, _id(license_id), with_for_update=True)
    if license is None:
        abort(404)
    if not form.validate_on_submit():
        flash(f"Not done: {_problem(form)}.")
    else:
        try:
            action(license, form, f"staff:{staff.id}")
        except LicensingError as refused:
            db.session.rollback()
            flash(f"Not done: {refused}.")
        else:
            flash(done)
    return redirect(url_for("console.license_page", license_id=license.id), code=303)


def _problem(form: FlaskForm) -> str:
    for field in form:
        if field.errors:
            return f"{field.label.text.lower()}: {field.errors[0].rstrip('.').lower()}"
    return "the form was incomplete"


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
    # Revoking cannot be undone; a second admin's approval (four eyes) is to come here.
    return _act(
        license_id,
        LicenseReasonForm(),
        lambda lic, form, who: licenses.revoke(db.session(), lic, reason=_reason(form), actor=who),
        "License revoked.",
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
        lambda lic, form, who: licenses.renew_upgrade_protection(
            db.session(), lic, actor=who, months=int(form.months.data), now=utcnow()
        ),
        "Upgrade protection renewed.",
    )


@bp.route("/licenses/<license_id>/extend", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def license_extend(license_id: str) -> Response:
    return _act(
        license_id,
        ExtendForm(),
        lambda lic, form, who: licenses.extend_term(
            db.session(), lic, actor=who, days=int(form.days.data), now=utcnow()
        ),
        "Term extended.",
    )
