"""Data-subject requests (admin): the list, recording one, and serving it by its kind.

Each right is served on a request recorded first, as on the command line
(cli/privacy_requests.py): find the subject, then the action of the request's kind.
Erasure has its own page (``console.privacy_erasure``); this page links to it.
"""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime
from typing import Any

from flask import abort, flash, redirect, render_template, request, send_file, url_for
from werkzeug.routing import BuildError
from werkzeug.wrappers import Response

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.lookup import attempt, first_error, uuid_or_404
from licensing.console.privacy_forms import (
    ActionForm,
    PrivacyRequestForm,
    RectifyForm,
    RefuseForm,
    SubjectForm,
)
from licensing.errors import LicensingError
from licensing.extensions import db
from licensing.models import (
    Activation,
    Customer,
    License,
    PrivacyRequestKind,
    PrivacyRequestStatus,
    StaffRole,
)
from licensing.runtime import current
from licensing.services import (
    customers,
    privacy_requests,
    processing_restriction,
    rectification,
    subject_export,
    subject_search,
)
from licensing.timeutil import utcnow

CLOSED_SHOWN = 50
SERVER_NAME_FIELD = "server_name-"


def _actor() -> str:
    staff = auth.current_staff()
    assert staff is not None  # requires() let the request in
    return f"staff:{staff.id}"


def _page(request_id: uuid.UUID) -> Response:
    return redirect(url_for("console.privacy_request", request_id=request_id), code=303)


@bp.route("/privacy")
@auth.requires(StaffRole.ADMIN)
def privacy_requests_list() -> Any:
    session, now = db.session(), utcnow()
    open_ = privacy_requests.list_requests(session, status=PrivacyRequestStatus.OPEN, limit=1000)
    closed = [
        r
        for r in privacy_requests.list_requests(session, limit=CLOSED_SHOWN + len(open_))
        if r.status != PrivacyRequestStatus.OPEN
    ][:CLOSED_SHOWN]
    return render_template(
        "console/privacy/index.html",
        open_requests=open_,
        closed=sorted(closed, key=lambda r: r.closed_at or r.recorded_at, reverse=True),
        now=now,
        form=PrivacyRequestForm(),
    )


@bp.route("/privacy/requests", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def privacy_request_record() -> Any:
    form = PrivacyRequestForm()
    if not form.validate_on_submit():
        label, problem = first_error(form) or ("Form", "invalid")
        flash(f"Not recorded: {label}: {problem}")
        return redirect(url_for("console.privacy_requests_list"), code=303)
    session, now = db.session(), utcnow()
    received = form.received.data
    try:
        reference = (form.customer.data or "").strip()
        customer_id = customers.get_customer(session, reference).id if reference else None
        recorded = privacy_requests.record(
            session,
            kind=PrivacyRequestKind(form.kind.data),
            customer_id=customer_id,
            received_at=datetime.combine(received, datetime.min.time(), tzinfo=UTC)
            if received
            else now,
            identity_verification=form.verified.data or "",
            actor=_actor(),
            now=now,
        )
    except LicensingError as why:
        db.session.rollback()
        flash(f"Not recorded: {why}.")
        return redirect(url_for("console.privacy_requests_list"), code=303)
    flash(f"Recorded; due {recorded.due_at:%Y-%m-%d}.")
    return _page(recorded.id)


@bp.route("/privacy/requests/<request_id>")
@auth.requires(StaffRole.ADMIN)
def privacy_request(request_id: str) -> Any:
    session, now = db.session(), utcnow()
    try:
        found = privacy_requests.get(session, uuid_or_404(request_id))
    except LicensingError:
        abort(404)
    query, result, problem = request.args.get("q"), None, None
    if query is not None and found.status == PrivacyRequestStatus.OPEN:
        try:
            result = subject_search.search(
                session, current().sealer, query, actor=_actor(), now=now, request_id=found.id
            )
        except LicensingError as why:
            problem = str(why)
    customer = session.get(Customer, found.customer_id) if found.customer_id else None
    kind = PrivacyRequestKind(found.kind)
    page = render_template(
        "console/privacy/request.html",
        r=found,
        kind=kind.value,
        now=now,
        customer=customer,
        query=query or "",
        result=result,
        problem=problem,
        activations=_activations(found.customer_id) if customer else [],
        notify=rectification.partners_to_notify(session, customer.id) if customer else [],
        erasure_href=_erasure_href(found.id),
        action=ActionForm(),
        refuse=RefuseForm(),
        rectify=RectifyForm(
            name=customer.name if customer else "",
            email=customer.email if customer else "",
            company=(customer.company or "") if customer else "",
        ),
    )
    return (page, 400) if problem else page


def _activations(customer_id: uuid.UUID | None) -> list[Activation]:
    return list(
        db.session.scalars(
            db.select(Activation)
            .join(License, License.id == Activation.license_id)
            .where(License.customer_id == customer_id)
            .order_by(Activation.activated_at)
        )
    )


def _erasure_href(request_id: uuid.UUID) -> str:
    """The erasure page's address; a plain one while that page is not registered."""
    try:
        return url_for("console.privacy_erasure", request_id=request_id)
    except BuildError:
        return f"/staff/privacy/requests/{request_id}/erasure"


@bp.route("/privacy/requests/<request_id>/subject", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def privacy_request_subject(request_id: str) -> Response:
    form, rid = SubjectForm(), uuid_or_404(request_id)
    if not form.validate_on_submit():
        flash("Not done: choose a customer found by the search.")
        return _page(rid)
    customer_id = uuid_or_404(form.customer.data or "")
    session = db.session()
    attempt(
        lambda: privacy_requests.assign_customer(
            session, privacy_requests.get(session, rid), customer_id, actor=_actor(), now=utcnow()
        ),
        done="The data subject is named on the request.",
    )
    return _page(rid)


@bp.route("/privacy/requests/<request_id>/refuse", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def privacy_request_refuse(request_id: str) -> Response:
    form, rid = RefuseForm(), uuid_or_404(request_id)
    if not form.validate_on_submit():
        flash("Not refused: give the reason the requester is told (5 to 2000 characters).")
        return _page(rid)
    session = db.session()
    attempt(
        lambda: privacy_requests.refuse(
            session,
            privacy_requests.get(session, rid),
            reason=form.reason.data or "",
            actor=_actor(),
            now=utcnow(),
        ),
        done="The request is refused.",
    )
    return _page(rid)


@bp.route("/privacy/requests/<request_id>/export", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def privacy_request_export(request_id: str) -> Any:
    rid = uuid_or_404(request_id)
    try:
        done = subject_export.export(
            db.session(),
            rid,
            periods=current().settings.retention,
            actor=_actor(),
            now=utcnow(),
        )
    except LicensingError as why:
        db.session.rollback()
        flash(f"Not exported: {why}.")
        return _page(rid)
    return send_file(
        io.BytesIO(done.content),
        mimetype="application/zip",
        as_attachment=True,
        download_name=f"privacy-export-{done.request_id}.zip",
    )


@bp.route("/privacy/requests/<request_id>/rectify", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def privacy_request_rectify(request_id: str) -> Response:
    form, rid = RectifyForm(), uuid_or_404(request_id)
    if not form.validate_on_submit():
        label, problem = first_error(form) or ("Form", "invalid")
        flash(f"Not rectified: {label}: {problem}")
        return _page(rid)
    names = {
        uuid_or_404(key.removeprefix(SERVER_NAME_FIELD)): value
        for key, value in request.form.items()
        if key.startswith(SERVER_NAME_FIELD)
    }
    session = db.session()
    # Only the names changed on the form are corrections (the form shows them all).
    shown = session.scalars(db.select(Activation).where(Activation.id.in_(names)))
    current_names = {a.id: a.server_name for a in shown}
    attempt(
        lambda: rectification.rectify(
            session,
            rid,
            name=form.name.data or None,
            email=form.email.data or None,
            company=form.company.data if form.company.data is not None else None,
            server_names={i: n for i, n in names.items() if current_names.get(i) != n.strip()},
            actor=_actor(),
            now=utcnow(),
        ),
        done="Rectified. Notify the partners listed below of the correction.",
    )
    return _page(rid)


@bp.route("/privacy/requests/<request_id>/restrict", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def privacy_request_restrict(request_id: str) -> Response:
    rid = uuid_or_404(request_id)
    attempt(
        lambda: processing_restriction.restrict(db.session(), rid, actor=_actor(), now=utcnow()),
        done="Processing is restricted on the customer's licenses.",
    )
    return _page(rid)


@bp.route("/privacy/requests/<request_id>/lift", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def privacy_request_lift(request_id: str) -> Response:
    rid = uuid_or_404(request_id)
    attempt(
        lambda: processing_restriction.lift(db.session(), rid, actor=_actor(), now=utcnow()),
        done="The restriction is lifted on the customer's licenses.",
    )
    return _page(rid)
