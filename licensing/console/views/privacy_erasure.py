"""Erasure of a data subject (admin): the plan with what is kept and why, then the erasure."""

from __future__ import annotations

import uuid
from typing import Any

from flask import abort, flash, redirect, render_template, url_for
from flask_wtf import FlaskForm
from werkzeug.wrappers import Response
from wtforms import BooleanField
from wtforms.validators import DataRequired

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.lookup import attempt
from licensing.errors import NotFound
from licensing.extensions import db
from licensing.models import PrivacyRequest, PrivacyRequestKind, PrivacyRequestStatus, StaffRole
from licensing.runtime import current
from licensing.services import erasure, erasure_run, privacy_requests
from licensing.services.erasure import ErasureReport
from licensing.timeutil import utcnow

ERASURE = {PrivacyRequestKind.ERASURE}


class ErasureForm(FlaskForm):  # type: ignore[misc]
    """Erasing cannot be undone: the admin ticks that they know it."""

    confirm = BooleanField(
        "I have checked the plan: erase this customer; this cannot be undone",
        validators=[DataRequired()],
    )


@bp.route("/privacy/requests/<uuid:request_id>/erasure", methods=["GET", "POST"])
@auth.requires(StaffRole.ADMIN)
def privacy_erasure(request_id: uuid.UUID) -> Any:
    request = _request_or_404(request_id)
    form = ErasureForm()
    if form.is_submitted():
        return _erase(request_id, form)
    return _plan_page(request, form)


def _request_or_404(request_id: uuid.UUID) -> PrivacyRequest:
    try:
        return privacy_requests.get(db.session(), request_id)
    except NotFound:
        abort(404)


def _plan_page(request: PrivacyRequest, form: ErasureForm, status: int = 200) -> Any:
    plan = None
    open_erasure = (
        request.kind == PrivacyRequestKind.ERASURE and request.status == PrivacyRequestStatus.OPEN
    )
    if open_erasure and request.customer_id is not None:
        plan = erasure.plan(db.session(), request.customer_id, now=utcnow())
    page = render_template("console/privacy/erasure.html", request=request, plan=plan, form=form)
    return page, status


def _erase(request_id: uuid.UUID, form: ErasureForm) -> Any:
    if not form.validate():
        flash("Not erased: tick the box to confirm that the erasure cannot be undone.")
        return _plan_page(_request_or_404(request_id), form, status=400)
    staff = auth.current_staff()
    assert staff is not None
    runtime = current()
    done: list[ErasureReport] = []

    def carry_out() -> None:
        session = db.session()
        request = privacy_requests.open_request(session, request_id, ERASURE)
        done.append(
            erasure_run.carry_out(
                session,
                request,
                sealer=runtime.sealer,
                ledger=runtime.settings.erasure_ledger,
                # Not from a web request: rewriting the files locks each table for as long
                # as it takes (about 24 s per million usage rows on PostgreSQL), past any
                # worker timeout. The report page says to run `licensing privacy scrub`.
                scrub_engine=None,
                actor=f"staff:{staff.id}",
                now=utcnow(),
            )
        )

    if not attempt(carry_out, done="Erased. The request is completed.", refused="Not erased"):
        return _back(request_id)
    return render_template("console/privacy/erasure_done.html", report=done[0])


def _back(request_id: uuid.UUID) -> Response:
    return redirect(url_for("console.privacy_erasure", request_id=request_id), code=303)
