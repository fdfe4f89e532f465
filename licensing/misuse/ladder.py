"""The escalation ladder of a confirmed case: notify the customer, final notice, suspend.

The vendor's own practice, made explicit: the system proposes the next step and when it
is due; only a person takes it. Pure, so the console, the CLI and the tests read the same
proposal from a case's state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Protocol

LADDER = ("notify_customer", "final_notice", "suspend")
CONFIRMED = "confirmed"


class CaseStanding(Protocol):
    """What the ladder reads of a case (a ``MisuseCase`` has it)."""

    @property
    def status(self) -> str: ...
    @property
    def decided_at(self) -> datetime | None: ...
    @property
    def escalation_step(self) -> str | None: ...
    @property
    def escalated_at(self) -> datetime | None: ...


@dataclass(frozen=True, slots=True)
class LadderPeriods:
    """Days from notifying the customer to the final notice, and on to suspending."""

    notice_days: int = 14
    final_notice_days: int = 14


@dataclass(frozen=True, slots=True)
class ProposedStep:
    step: str
    due_at: datetime
    # Whether it may be taken now: the notice periods are the customer's time to answer.
    due: bool


def why_no_step(case: CaseStanding) -> str | None:
    """Why the case has no next step (not confirmed, or the ladder is walked), or None."""
    if case.status != CONFIRMED:
        return f"the case is {case.status}: only a confirmed case is escalated"
    if case.escalation_step == LADDER[-1]:
        return "the ladder is walked: the license was suspended at the last step"
    return None


def proposed_step(
    case: CaseStanding, now: datetime, periods: LadderPeriods = LadderPeriods()
) -> ProposedStep | None:
    """The next step of a confirmed case and when it is due; None off the ladder.

    Notifying the customer is due at confirmation; the final notice ``notice_days`` after
    the notification; suspending ``final_notice_days`` after the final notice, counted
    from when each step was actually taken (a late step moves the next one too).
    """
    if why_no_step(case) is not None:
        return None
    if case.escalation_step is None:
        step, due_at = LADDER[0], case.decided_at
    else:
        step = LADDER[LADDER.index(case.escalation_step) + 1]
        wait = periods.notice_days if step == "final_notice" else periods.final_notice_days
        due_at = case.escalated_at + timedelta(days=wait) if case.escalated_at else None
    if due_at is None:  # a confirmed case always has decided_at; a step, escalated_at
        raise ValueError("a confirmed case without its decision or step time")
    return ProposedStep(step=step, due_at=due_at, due=now >= due_at)
