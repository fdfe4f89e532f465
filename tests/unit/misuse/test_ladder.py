"""The escalation ladder: what is proposed next, and when it is due."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

import pytest

from licensing.misuse.ladder import LadderPeriods, ProposedStep, proposed_step, why_no_step

CONFIRMED_AT = datetime(2026, 5, 4, 9, 0, tzinfo=UTC)
DAY = timedelta(days=1)


@dataclass
class Case:
    status: str = "confirmed"
    decided_at: datetime | None = CONFIRMED_AT
    escalation_step: str | None = None
    escalated_at: datetime | None = None


def test_notifying_the_customer_is_due_at_confirmation() -> None:
    assert proposed_step(Case(), CONFIRMED_AT) == ProposedStep(
        "notify_customer", CONFIRMED_AT, due=True
    )
    assert proposed_step(Case(), CONFIRMED_AT - DAY) == ProposedStep(
        "notify_customer", CONFIRMED_AT, due=False
    )


def test_each_later_step_is_counted_from_when_the_previous_one_was_taken() -> None:
    notified = CONFIRMED_AT + 3 * DAY  # taken late
    case = Case(escalation_step="notify_customer", escalated_at=notified)
    assert proposed_step(case, notified) == ProposedStep(
        "final_notice", notified + 14 * DAY, due=False
    )
    assert proposed_step(case, notified + 14 * DAY).due  # type: ignore[union-attr]

    final = Case(escalation_step="final_notice", escalated_at=notified + 15 * DAY)
    assert proposed_step(final, notified) == ProposedStep("suspend", notified + 29 * DAY, due=False)


def test_the_periods_are_configurable() -> None:
    periods = LadderPeriods(notice_days=3, final_notice_days=10)
    notified = Case(escalation_step="notify_customer", escalated_at=CONFIRMED_AT)
    final = Case(escalation_step="final_notice", escalated_at=CONFIRMED_AT)
    assert proposed_step(notified, CONFIRMED_AT, periods).due_at == CONFIRMED_AT + 3 * DAY  # type: ignore[union-attr]
    assert proposed_step(final, CONFIRMED_AT, periods).due_at == CONFIRMED_AT + 10 * DAY  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("case", "why"),
    [
        (Case(status="open", decided_at=None), "the case is open: only a confirmed case"),
        (Case(status="dismissed"), "the case is dismissed: only a confirmed case"),
        (
            Case(escalation_step="suspend", escalated_at=CONFIRMED_AT),
            "the ladder is walked",
        ),
    ],
)
def test_no_step_off_the_ladder(case: Case, why: str) -> None:
    assert proposed_step(case, CONFIRMED_AT + 100 * DAY) is None
    reason = why_no_step(case)
    assert reason is not None and reason.startswith(why)


def test_a_confirmed_case_without_its_decision_time_is_a_programming_error() -> None:
    with pytest.raises(ValueError, match="without its decision"):
        proposed_step(Case(decided_at=None), CONFIRMED_AT)
