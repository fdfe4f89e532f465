"""Legal holds (admin): the holds in force with their reviews due, the released ones,
placing a hold, and one hold's page with its release.

Under four eyes a release is a request a second admin decides on the Approvals page;
everything goes through ``services/legal_holds.py``, as ``licensing privacy hold`` does.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_wtf import FlaskForm
from sqlalchemy import select
from werkzeug.wrappers import Response
from wtforms import DateField, SelectChoice, SelectField, StringField, TextAreaField
from wtforms.validators import DataRequired, Length

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.lookup import attempt, first_error, uuid_or_404
from licensing.errors import NotFound
from licensing.extensions import db
from licensing.models import ApprovalAction, HoldScope, LegalHold, License, StaffRole
from licensing.runtime import current
from licensing.services import approvals, customers, legal_holds, licenses
from licensing.timeutil import utcnow

SCOPES = {
    HoldScope.LICENSE.value: "License: its usage, activations, cases and disclosures",
    HoldScope.CUSTOMER.value: "Customer: the customer record and every license of it",
}


class HoldPlaceForm(FlaskForm):  # type: ignore[misc]
    """What ``licensing privacy hold place`` takes: the subject, matter, reason, review date."""

    scope = SelectField("Scope", choices=[SelectChoice(v, text) for v, text in SCOPES.items()])
    subject = StringField(
        "License (id, key id or key) or customer (id or e-mail)",
        validators=[DataRequired(), Length(max=320)],
    )
    matter = StringField("Matter", validators=[DataRequired(), Length(min=3, max=200)])
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(min=10, max=1000)])
    review_on = DateField("Review on", validators=[DataRequired()])


class HoldReleaseForm(FlaskForm):  # type: ignore[misc]
    reason = TextAreaField("Reason", validators=[DataRequired(), Length(min=10, max=1000)])


@bp.route("/holds")
@auth.requires(StaffRole.ADMIN)
def holds_list() -> Any:
    # "Place a legal hold" on a license's page comes here with the license prefilled.
    prefill = request.args.get("license", "").strip()[:320]
    form = HoldPlaceForm(formdata=None, scope=HoldScope.LICENSE.value, subject=prefill)
    return _render_list(form)


def _render_list(form: HoldPlaceForm, *, status: int = 200) -> Any:
    session, today = db.session(), utcnow().date()
    released = request.args.get("show") == "released"
    holds = legal_holds.list_released(session) if released else legal_holds.list_holds(session)
    body = render_template(
        "console/holds/index.html",
        holds=holds,
        released=released,
        due={h.id for h in holds if legal_holds.is_review_due(h, today)},
        key_ids=key_ids(holds),
        form=form,
        scopes=SCOPES,
        today=today,
    )
    return body, status


def key_ids(holds: Sequence[LegalHold]) -> dict[uuid.UUID, str]:
    """The key id of each license the holds name, in one query."""
    ids = {h.license_id for h in holds if h.license_id is not None}
    if not ids:
        return {}
    rows = db.session.execute(select(License.id, License.key_id).where(License.id.in_(ids)))
    return {license_id: key_id for license_id, key_id in rows}


@bp.route("/holds/place", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def hold_place() -> Any:
    form = HoldPlaceForm()
    if not form.validate_on_submit():
        flash(f"Not done: {_problem(form)}.")
        return _render_list(form, status=400)
    staff = auth.current_staff()
    assert staff is not None
    placed: list[LegalHold] = []

    def place() -> None:
        scope, subject = HoldScope(form.scope.data), str(form.subject.data).strip()
        found: dict[str, Any] = (
            {"license": licenses.find(db.session(), subject)}
            if scope is HoldScope.LICENSE
            else {"customer": customers.get_customer(db.session(), subject)}
        )
        placed.append(
            legal_holds.place(
                db.session(),
                scope=scope,
                matter=str(form.matter.data),
                reason=str(form.reason.data),
                review_on=form.review_on.data,
                actor=approvals.staff_actor(staff),
                now=utcnow(),
                **found,
            )
        )

    if not attempt(place, done="Legal hold placed."):
        return _render_list(form, status=400)
    return redirect(url_for("console.hold_page", hold_id=placed[0].id), code=303)


def _problem(form: FlaskForm) -> str:
    problem = first_error(form)
    if problem is None:
        return "the form was incomplete"
    label, message = problem
    return f"{label.lower()}: {message.rstrip('.').lower()}"


@bp.route("/holds/<hold_id>")
@auth.requires(StaffRole.ADMIN)
def hold_page(hold_id: str) -> Any:
    session = db.session()
    hold = _find(hold_id)
    return render_template(
        "console/holds/hold.html",
        hold=hold,
        key_id=key_ids([hold]).get(hold.license_id) if hold.license_id else None,
        scopes=SCOPES,
        review_due=legal_holds.is_review_due(hold, utcnow().date()),
        four_eyes=current().settings.four_eyes,
        pending_release=approvals.pending_for(session, ApprovalAction.RELEASE_HOLD, hold.id),
        form=HoldReleaseForm(formdata=None),
    )


def _find(hold_id: str, *, for_update: bool = False) -> LegalHold:
    try:
        return legal_holds.find(db.session(), uuid_or_404(hold_id), for_update=for_update)
    except NotFound:
        abort(404)


_REQUESTED = "Release requested: it happens when a second admin approves it (Approvals)."


@bp.route("/holds/<hold_id>/release", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def hold_release(hold_id: str) -> Response:
    # Releasing lets retention and erasure remove what the hold kept: under four eyes it
    # becomes a request a second admin decides (services/approvals.py).
    form = HoldReleaseForm()
    hold = _find(hold_id, for_update=True)
    staff = auth.current_staff()
    assert staff is not None
    back = redirect(url_for("console.hold_page", hold_id=hold.id), code=303)
    if not form.validate_on_submit():
        flash(f"Not done: {_problem(form)}.")
        return back
    reason, now = str(form.reason.data), utcnow()
    if current().settings.four_eyes:
        attempt(
            lambda: approvals.request_hold_release(
                db.session(), hold, reason=reason, requested_by=staff, now=now
            ),
            done=_REQUESTED,
        )
    else:
        attempt(
            lambda: legal_holds.release(
                db.session(),
                hold,
                reason=reason,
                actor=approvals.staff_actor(staff),
                now=now,
                four_eyes=False,
            ),
            done="Legal hold released.",
        )
    return back
