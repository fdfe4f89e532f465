"""Four eyes: requests waiting for a second admin, and their approval or refusal."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, redirect, render_template, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.forms import DecisionForm
from licensing.console.lookup import attempt, uuid_or_404
from licensing.extensions import db
from licensing.models import (
    ApprovalAction,
    ApprovalRequest,
    ApprovalStatus,
    StaffRole,
    StaffUser,
)
from licensing.services import approvals, legal_holds
from licensing.timeutil import utcnow

RECENT = 20
# What an approval did, said after it is done.
_DONE = {
    ApprovalAction.REVOKE_LICENSE.value: "Approved: the license is revoked.",
    ApprovalAction.RELEASE_HOLD.value: "Approved: the legal hold is released.",
}


@bp.route("/approvals")
@auth.requires(StaffRole.ADMIN)
def approvals_list() -> Any:
    session = db.session()
    pending = approvals.list_requests(session, status=ApprovalStatus.PENDING)
    decided = [
        r
        for r in approvals.list_requests(session, status=None, limit=RECENT + len(pending))
        if r.status != ApprovalStatus.PENDING.value
    ][:RECENT]
    staff = auth.current_staff()
    return render_template(
        "console/approvals/index.html",
        pending=pending,
        decided=decided,
        names=_names([*pending, *decided]),
        holds=legal_holds.by_ids(
            session,
            {
                r.subject_id
                for r in [*pending, *decided]
                if r.action == ApprovalAction.RELEASE_HOLD.value
            },
        ),
        me=staff.id if staff else None,
        form=DecisionForm(),
    )


def _names(requests: list[ApprovalRequest]) -> dict[uuid.UUID, str]:
    """Display names of the admins named on the requests, in one query."""
    ids = {r.requested_by for r in requests} | {r.decided_by for r in requests if r.decided_by}
    if not ids:
        return {}
    rows = db.session.execute(
        select(StaffUser.id, StaffUser.display_name).where(StaffUser.id.in_(ids))
    )
    return {staff_id: name for staff_id, name in rows}


def _decide(request_id: str, approve: bool) -> Response:
    form = DecisionForm()
    staff = auth.current_staff()
    assert staff is not None
    back = redirect(url_for("console.approvals_list"), code=303)
    if not form.validate_on_submit():
        flash("Not done: the note is longer than 1000 characters.")
        return back
    note, request = (form.note.data or "").strip(), uuid_or_404(request_id)
    if approve:
        asked = db.session.get(ApprovalRequest, request)
        attempt(
            lambda: approvals.approve(
                db.session(), request, approver=staff, note=note, now=utcnow()
            ),
            done=_DONE.get(asked.action if asked else "", "Approved."),
        )
    else:
        attempt(
            lambda: approvals.reject(db.session(), request, decider=staff, note=note, now=utcnow()),
            done="The request is closed.",
        )
    return back


@bp.route("/approvals/<request_id>/approve", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def approval_approve(request_id: str) -> Response:
    return _decide(request_id, approve=True)


@bp.route("/approvals/<request_id>/reject", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def approval_reject(request_id: str) -> Response:
    return _decide(request_id, approve=False)
