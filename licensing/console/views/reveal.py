"""Revealing a license's raw addresses and server names, for a reason.

From a case's page the case is the purpose; from a license's page an analyst names a
case under way on it, an admin may give the reason alone.

The reveal is audited before the page shows anything, and what it read is shown on that
one response only: not kept in the session, not cached (security.HEADERS), gone on reload.
"""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, request, url_for

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.forms import RevealForm
from licensing.console.lookup import uuid_or_404
from licensing.console.views.licenses import render_license
from licensing.console.views.misuse import find_case, render_case
from licensing.errors import LicensingError
from licensing.extensions import db
from licensing.models import License, StaffRole
from licensing.runtime import current
from licensing.services import personal_data_reveal as reveal
from licensing.timeutil import utcnow


@bp.route("/misuse/<case_id>/reveal", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def misuse_reveal(case_id: str) -> Any:
    form = RevealForm()
    staff = auth.current_staff()
    assert staff is not None
    case = find_case(case_id)
    if not form.validate_on_submit():
        flash("Not revealed: give the reason, in 10 to 500 characters.")
        return redirect(url_for("console.misuse_case", case_id=case_id), code=303)
    try:
        revealed = reveal.reveal_usage(
            db.session(),
            current().sealer,
            license_id=case.license_id,
            staff=staff,
            reason=form.reason.data or "",
            case_id=case.id,
            now=utcnow(),
        )
    except LicensingError as refused:
        db.session.rollback()
        flash(f"Not revealed: {refused}.")
        return redirect(url_for("console.misuse_case", case_id=case_id), code=303)
    return render_case(case, revealed=revealed)


@bp.route("/licenses/<license_id>/reveal", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def license_reveal(license_id: str) -> Any:
    form = RevealForm()
    staff = auth.current_staff()
    assert staff is not None
    license = db.session.get(License, _uuid(license_id))
    if license is None:
        abort(404)
    back = redirect(url_for("console.license_page", license_id=license.id), code=303)
    if not form.validate_on_submit():
        flash("Not revealed: give the reason, in 10 to 500 characters.")
        return back
    case_id = (request.form.get("case") or "").strip()
    try:
        revealed = reveal.reveal_usage(
            db.session(),
            current().sealer,
            license_id=license.id,
            staff=staff,
            reason=form.reason.data or "",
            case_id=_uuid(case_id) if case_id else None,
            now=utcnow(),
        )
    except LicensingError as refused:
        db.session.rollback()
        flash(f"Not revealed: {refused}.")
        return back
    return render_license(license.id, revealed=revealed)


# An id from the URL or the form, or a 404 (shared with the other console pages).
_uuid = uuid_or_404
