"""What staff do with a case: assign, note, confirm, dismiss, escalate.

Each action is one case event (the case's history) and one audit event (the security
record), both naming the actor. Decisions keep the evidence they were taken on: a
dismissed case reopens only on evidence beyond it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from licensing.errors import InvalidRequest, InvalidTransition
from licensing.misuse.ladder import LadderPeriods, proposed_step, why_no_step
from licensing.models import License
from licensing.models.misuse import CaseStatus, EscalationStep, MisuseCase
from licensing.services import licenses
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
    last step of the ladder taken at once, for the plain cases)."""
    if case.status == CaseStatus.CONFIRMED:
        raise InvalidTransition("this case is already confirmed")
    license = _license(session, case)
    if suspend and license.status != "active":
        raise InvalidTransition(f"cannot suspend a license that is {license.status}")
    why = _decide(case, CaseStatus.CONFIRMED, reason=reason, actor=actor, now=now)
    if suspend:
        _suspend(session, case, license, actor=actor)
        case.escalation_step = EscalationStep.SUSPEND.value
        case.escalated_at = now
    return _record(
        session,
        case,
        kind="confirmed",
        actor=actor,
        now=now,
        detail={"reason": why, "suspended": suspend},
    )


def dismiss(
    session: Session, case: MisuseCase, *, reason: str, actor: str, now: datetime
) -> MisuseCase:
    """Dismiss as legitimate; kept with the evidence it was dismissed on."""
    if case.status == CaseStatus.DISMISSED:
        raise InvalidTransition("this case is already dismissed")
    why = _decide(case, CaseStatus.DISMISSED, reason=reason, actor=actor, now=now)
    return _record(session, case, kind="dismissed", actor=actor, now=now, detail={"reason": why})


def escalate(
    session: Session,
    case: MisuseCase,
    *,
    actor: str,
    now: datetime,
    periods: LadderPeriods,
) -> MisuseCase:
    """Take the step the ladder proposes, once it is due; the suspend step suspends."""
    refusal = why_no_step(case)
    if refusal is not None:
        raise InvalidTransition(refusal)
    proposal = proposed_step(case, now, periods)
    assert proposal is not None  # why_no_step said there is one
    if not proposal.due:
        raise InvalidTransition(
            f"{proposal.step} is not due until {rfc3339(proposal.due_at)}: the notice "
            "period is the customer's time to answer (confirm --suspend acts at once)"
        )
    if proposal.step == EscalationStep.SUSPEND:
        _suspend(session, case, _license(session, case), actor=actor)
    case.escalation_step = proposal.step
    case.escalated_at = now
    return _record(
        session,
        case,
        kind="escalated",
        actor=actor,
        now=now,
        detail={"step": proposal.step, "due_at": rfc3339(proposal.due_at)},
    )


def _license(session: Session, case: MisuseCase) -> License:
    license = session.get(License, case.license_id)
    assert license is not None  # a foreign key
    return license


def _suspend(session: Session, case: MisuseCase, license: License, *, actor: str) -> None:
    licenses.suspend(session, license, reason=f"misuse case {case.id} ({case.rule})", actor=actor)
