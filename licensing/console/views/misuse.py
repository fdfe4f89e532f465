"""The misuse queue and one case's page, with the actions staff take on it.

Every action goes through ``misuse_case_actions`` on the case locked for the request;
a refused step (already decided, not yet due) comes back as a flash message, not an error.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from werkzeug.wrappers import Response

from licensing.console import auth
from licensing.console.blueprint import bp
from licensing.console.forms import EXCEPTION_KINDS, CaseNoteForm, RevealForm
from licensing.console.lookup import attempt
from licensing.console.paging import page_number
from licensing.errors import LicensingError
from licensing.extensions import db
from licensing.misuse.findings import Rule, Severity
from licensing.misuse.ladder import LadderPeriods, proposed_step, why_no_step
from licensing.models import StaffRole
from licensing.models.misuse import CaseStatus, MisuseCase
from licensing.runtime import current
from licensing.services import misuse_case_actions as actions
from licensing.services import misuse_case_queries as queries
from licensing.services import misuse_exceptions
from licensing.services import personal_data_reveal as reveal
from licensing.services.case_evidence_hold import case_hold
from licensing.services.personal_data_reveal import Revealed
from licensing.timeutil import utcnow

PAGE_SIZE = 50


def _choice(name: str, allowed: list[str]) -> str | None:
    value = request.args.get(name, "").strip()
    return value if value in allowed else None


@bp.route("/misuse")
@auth.requires(StaffRole.VIEWER)
def misuse_queue() -> Any:
    rules, statuses = [r.value for r in Rule], [s.value for s in CaseStatus]
    severities = [s.value for s in Severity]
    rule, status = _choice("rule", rules), _choice("status", statuses)
    severity = _choice("severity", severities)
    assignee = request.args.get("assignee", "").strip()[:100] or None
    page = page_number()
    # One more than a page tells whether there is a next one without counting.
    found = queries.list_cases(
        db.session(),
        rule=Rule(rule) if rule else None,
        status=CaseStatus(status) if status else None,
        severity=severity,
        assignee=assignee,
        limit=PAGE_SIZE + 1,
        offset=(page - 1) * PAGE_SIZE,
    )
    filters = {"rule": rule, "status": status, "severity": severity, "assignee": assignee}
    return render_template(
        "console/misuse/queue.html",
        cases=found[:PAGE_SIZE],
        page=page,
        has_next=len(found) > PAGE_SIZE,
        filters={k: v for k, v in filters.items() if v},
        rules=rules,
        statuses=statuses,
        severities=severities,
    )


def _periods() -> LadderPeriods:
    settings = current().settings
    return LadderPeriods(settings.misuse_notice_days, settings.misuse_final_notice_days)


def find_case(case_id: str, *, for_update: bool = False) -> MisuseCase:
    """The case, or a 404 page."""
    try:
        return queries.find_case(db.session(), case_id, for_update=for_update)
    except LicensingError:
        abort(404)


@bp.route("/misuse/<case_id>")
@auth.requires(StaffRole.VIEWER)
def misuse_case(case_id: str) -> Any:
    return render_case(find_case(case_id))


def render_case(case: MisuseCase, revealed: Revealed | None = None) -> str:
    """The case page; with ``revealed``, the raw usage an audited reveal just read."""
    session, now = db.session(), utcnow()
    staff = auth.current_staff()
    assert staff is not None  # requires() let the request in
    role = StaffRole(staff.role)
    return render_template(
        "console/misuse/case.html",
        case=case,
        events=queries.case_events(session, case),
        exceptions=misuse_exceptions.exceptions_for(session, case.license_id, case.rule, now),
        proposal=proposed_step(case, now, _periods()),
        why_none=why_no_step(case),
        may_act=role.includes(StaffRole.ANALYST),
        may_suspend=role.includes(StaffRole.ADMIN),
        may_reveal=reveal.why_not_revealable(role, case) is None,
        revealed=revealed,
        form=CaseNoteForm(),
        reveal_form=RevealForm(),
        exception_kinds=EXCEPTION_KINDS,
    )


def _act(case_id: str, action: Callable[[MisuseCase, str, str], object], done: str) -> Response:
    """Run one action on the locked case with the form's text; flash what came of it."""
    form = CaseNoteForm()
    staff = auth.current_staff()
    assert staff is not None
    if form.validate_on_submit():
        case = find_case(case_id, for_update=True)
        attempt(
            lambda: action(case, (form.text.data or "").strip(), f"staff:{staff.id}"), done=done
        )
    else:
        flash("Not done: the text is longer than 1000 characters.")
    return redirect(url_for("console.misuse_case", case_id=case_id), code=303)


@bp.route("/misuse/<case_id>/note", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def misuse_note(case_id: str) -> Response:
    return _act(
        case_id,
        lambda c, text, who: actions.note(db.session(), c, text=text, actor=who, now=utcnow()),
        "Note added.",
    )


@bp.route("/misuse/<case_id>/assign", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def misuse_assign(case_id: str) -> Response:
    return _act(
        case_id,
        lambda c, text, who: actions.assign(db.session(), c, to=text, actor=who, now=utcnow()),
        "Case assigned.",
    )


@bp.route("/misuse/<case_id>/confirm", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def misuse_confirm(case_id: str) -> Response:
    return _act(
        case_id,
        lambda c, text, who: _say_hold(
            actions.confirm(db.session(), c, reason=text, actor=who, now=utcnow())
        ),
        "Case confirmed: the escalation ladder starts.",
    )


def _say_hold(case: MisuseCase) -> None:
    """Tell the reviewer about the legal hold the confirmation placed (or found)."""
    held = case_hold(db.session(), case)
    if held is not None:
        flash(held.message())


@bp.route("/misuse/<case_id>/confirm-suspend", methods=["POST"])
@auth.requires(StaffRole.ADMIN)
def misuse_confirm_suspend(case_id: str) -> Response:
    return _act(
        case_id,
        lambda c, text, who: _say_hold(
            actions.confirm(db.session(), c, reason=text, actor=who, now=utcnow(), suspend=True)
        ),
        "Case confirmed and the license suspended.",
    )


@bp.route("/misuse/<case_id>/dismiss", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def misuse_dismiss(case_id: str) -> Response:
    return _act(
        case_id,
        lambda c, text, who: actions.dismiss(db.session(), c, reason=text, actor=who, now=utcnow()),
        "Case dismissed.",
    )


def _escalate(case: MisuseCase, text: str, who: str) -> None:
    # The step itself takes no text; a note given with it goes to the history first
    # (and goes with the step if the step is refused: _act rolls both back).
    now = utcnow()
    staff = auth.current_staff()
    assert staff is not None
    if text:
        actions.note(db.session(), case, text=text, actor=who, now=now)
    actions.escalate(
        db.session(),
        case,
        actor=who,
        now=now,
        periods=_periods(),
        # An analyst walks the ladder up to its last step; suspending is an admin's.
        may_suspend=StaffRole(staff.role).includes(StaffRole.ADMIN),
    )


@bp.route("/misuse/<case_id>/escalate", methods=["POST"])
@auth.requires(StaffRole.ANALYST)
def misuse_escalate(case_id: str) -> Response:
    return _act(case_id, _escalate, "Step taken.")
