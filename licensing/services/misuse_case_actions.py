"""What staff do with a case: assign, note, confirm, dismiss, escalate.

Each action is one case event (the case's history) and one audit event (the security
record), both naming the actor. Free text (notes, reasons) stays in the case event: the
audit log is append-only and kept for years, so what it holds cannot be erased; it records
that a reason was given and its length. Decisions keep the evidence they were taken on: a
dismissed case reopens only on evidence beyond it.

Callers load the case with ``find_case(..., for_update=True)``: each action reads the case
and then writes it, and two staff at once must not both take the same step.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from licensing.errors import Forbidden, InvalidRequest, InvalidTransition
from licensing.misuse.ladder import LadderPeriods, proposed_step, why_no_step
from licensing.models import License, LicenseStatus
from licensing.models.misuse import CaseStatus, EscalationStep, MisuseCase
from licensing.services import licenses
from licensing.services.case_evidence_hold import hold_case_evidence
from licensing.services.misuse_case_events import add_event, audit_case
from licensing.timeutil import rfc3339

_NAME_LENGTH = 100
_TEXT_LENGTH = 1000


def _text(value: str, what: str, limit: int) -> str:
    text = value.strip()
    if not text:
        raise InvalidRequest(f"the {what} must not be empty")
    if len(text) > limit:
        raise InvalidRequest(f"the {what} is longer than {limit} characters")
    return text


def _record(
    session: Session,
    case: MisuseCase,
    *,
    kind: str,
    actor: str,
    now: datetime,
    detail: dict[str, Any],
    audited: dict[str, Any] | None = None,
) -> MisuseCase:
    case.updated_at = now
    event = add_event(session, case, kind=kind, actor=actor, now=now, detail=detail)
    session.flush()
    audit_case(
        session,
        case,
        action=kind,
        actor=actor,
        now=now,
        data={"event_id": event.id, **(detail if audited is None else audited)},
    )
    return case


def assign(session: Session, case: MisuseCase, *, to: str, actor: str, now: datetime) -> MisuseCase:
    """Give the case to a reviewer (a staff name); assigning again hands it over."""
    assignee = _text(to, "assignee", _NAME_LENGTH)
    previous, case.assignee = case.assignee, assignee
    return _record(
        session,
        case,
        kind="assigned",
        actor=actor,
        now=now,
        detail={"assignee": assignee, "previous": previous},
    )


def note(session: Session, case: MisuseCase, *, text: str, actor: str, now: datetime) -> MisuseCase:
    """A reviewer's note. The audit event names the note, not its text (free text may hold
    what the audit log must not)."""
    written = _text(text, "note", _TEXT_LENGTH)
    return _record(
        session, case, kind="noted", actor=actor, now=now, detail={"text": written}, audited={}
    )


def _reason_audited(why: str) -> dict[str, Any]:
    """What the audit log keeps of a reason: that there was one, not what it says."""
    return {"reason_given": True, "reason_length": len(why)}


def _decide(case: MisuseCase, status: CaseStatus, *, reason: str, actor: str, now: datetime) -> str:
    why = _text(reason, "reason", _TEXT_LENGTH)
    case.status = status.value
    case.decided_at = now
    case.decided_by = actor
    case.decision_reason = why
    case.decided_evidence = dict(case.evidence)
    # A new decision starts the ladder over (or, dismissed, leaves it).
    case.escalation_step = None
    case.escalated_at = None
    return why


def confirm(
    session: Session,
    case: MisuseCase,
    *,
    reason: str,
    actor: str,
    now: datetime,
    suspend: bool = False,
) -> MisuseCase:
    """Confirm misuse; with ``suspend`` the license is suspended in the same action (the
    last step of the ladder taken at once, for the plain cases). A license already
    suspended or revoked stays as it is: the step is taken as done, with a note.

    Confirming places a legal hold on the license's data (the case's evidence), once per
    case; the case event names the hold, and ``legal_holds.for_case`` finds it."""
    if case.status == CaseStatus.CONFIRMED:
        raise InvalidTransition("this case is already confirmed")
    why = _decide(case, CaseStatus.CONFIRMED, reason=reason, actor=actor, now=now)
    detail: dict[str, Any] = {"reason": why, "suspended": suspend}
    audited: dict[str, Any] = {**_reason_audited(why), "suspended": suspend}
    if suspend:
        already = _suspend(session, case, _license(session, case), actor=actor)
        case.escalation_step = EscalationStep.SUSPEND.value
        case.escalated_at = now
        if already is not None:
            detail["note"] = _already_note(already)
            audited["license_already"] = already
    license = session.get(License, case.license_id)
    assert license is not None  # a foreign key
    held = hold_case_evidence(session, case, license, actor=actor, now=now).detail()
    detail.update(held)
    audited.update(held)
    return _record(
        session, case, kind="confirmed", actor=actor, now=now, detail=detail, audited=audited
    )


def dismiss(
    session: Session, case: MisuseCase, *, reason: str, actor: str, now: datetime
) -> MisuseCase:
    """Dismiss as legitimate; kept with the evidence it was dismissed on."""
    if case.status == CaseStatus.DISMISSED:
        raise InvalidTransition("this case is already dismissed")
    why = _decide(case, CaseStatus.DISMISSED, reason=reason, actor=actor, now=now)
    return _record(
        session,
        case,
        kind="dismissed",
        actor=actor,
        now=now,
        detail={"reason": why},
        audited=_reason_audited(why),
    )


def escalate(
    session: Session,
    case: MisuseCase,
    *,
    actor: str,
    now: datetime,
    periods: LadderPeriods,
    may_suspend: bool,
) -> MisuseCase:
    """Take the step the ladder proposes, once it is due; the suspend step suspends.

    Suspending a license is an admin's (or an operator's) decision wherever it is taken:
    ``may_suspend`` says whether the actor may, and without it the suspend step is refused.
    """
    refusal = why_no_step(case)
    if refusal is not None:
        raise InvalidTransition(refusal)
    proposal = proposed_step(case, now, periods)
    assert proposal is not None  # why_no_step said there is one
    if proposal.step == EscalationStep.SUSPEND and not may_suspend:
        raise Forbidden("the next step suspends the license: an admin takes this step")
    if not proposal.due:
        raise InvalidTransition(
            f"{proposal.step} is not due until {rfc3339(proposal.due_at)}: the notice "
            "period is the customer's time to answer (confirm --suspend acts at once)"
        )
    detail: dict[str, Any] = {"step": proposal.step, "due_at": rfc3339(proposal.due_at)}
    audited = dict(detail)
    if proposal.step == EscalationStep.SUSPEND:
        already = _suspend(session, case, _license(session, case), actor=actor)
        if already is not None:
            detail["note"] = _already_note(already)
            audited["license_already"] = already
    case.escalation_step = proposal.step
    case.escalated_at = now
    return _record(
        session, case, kind="escalated", actor=actor, now=now, detail=detail, audited=audited
    )


def _license(session: Session, case: MisuseCase) -> License:
    # Locked: another case of the license (or staff) may be suspending it at the same time.
    license = session.get(License, case.license_id, with_for_update=True, populate_existing=True)
    assert license is not None  # a foreign key
    return license


def _suspend(session: Session, case: MisuseCase, license: License, *, actor: str) -> str | None:
    """Suspend the license for the case; a license already suspended (by another case or by
    staff) or revoked is left as it is and its status returned: the step is done, and
    refusing it would leave the ladder stuck on a step that can never be taken."""
    if license.status != LicenseStatus.ACTIVE:
        return str(license.status)
    licenses.suspend(session, license, reason=f"misuse case {case.id} ({case.rule})", actor=actor)
    return None


def _already_note(status: str) -> str:
    return f"the license was already {status}: its state was not changed"
