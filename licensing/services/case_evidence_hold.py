"""The legal hold a confirmed misuse case places on its evidence.

Confirmed misuse may end in a legal claim, and the evidence (the license's usage,
activations, cases and disclosures) must outlive its retention until staff decide it is
no longer needed. One hold per case: confirming a case that already placed one (it was
dismissed and is confirmed again) finds that hold rather than stacking a second; a hold
staff released stays released, since releasing it was a person's decision on this case.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from licensing.models import HoldScope, LegalHold, License
from licensing.models.misuse import MisuseCase
from licensing.services import legal_holds
from licensing.timeutil import add_months

REVIEW_AFTER_MONTHS = 6


@dataclass(frozen=True, slots=True)
class CaseHold:
    hold: LegalHold
    placed: bool  # False: the case's earlier hold was found

    def detail(self) -> dict[str, object]:
        """What the case's history and the audit event say of it: ids only."""
        return {
            "legal_hold_id": str(self.hold.id),
            "legal_hold_placed": self.placed,
            "legal_hold_in_force": self.hold.released_at is None,
        }

    def message(self) -> str:
        """What the reviewer is told after confirming."""
        if self.placed:
            return (
                f"A legal hold ({self.hold.id}) now keeps the case's evidence past retention "
                "and erasure; review it on Legal holds."
            )
        state = "is still in force" if self.hold.released_at is None else "was released since"
        return (
            f"The case's legal hold ({self.hold.id}), placed when it was first confirmed, {state}."
        )


def case_hold(session: Session, case: MisuseCase) -> CaseHold | None:
    """The case's hold, and whether its latest confirmation placed it (both take one moment)."""
    hold = legal_holds.for_case(session, case.id)
    if hold is None:
        return None
    return CaseHold(hold, placed=case.decided_at is not None and hold.placed_at == case.decided_at)


def matter_for(case: MisuseCase) -> str:
    return f"Confirmed misuse case: {case.rule}"


def hold_case_evidence(
    session: Session, case: MisuseCase, license: License, *, actor: str, now: datetime
) -> CaseHold:
    """Place the case's hold on ``license`` (the case's), unless the case has one."""
    earlier = legal_holds.for_case(session, case.id)
    if earlier is not None:
        return CaseHold(earlier, placed=False)
    hold = legal_holds.place(
        session,
        scope=HoldScope.LICENSE,
        license=license,
        matter=matter_for(case),
        reason=(
            f"Evidence of misuse case {case.id}, confirmed: kept for legal claims "
            "until staff release the hold"
        ),
        review_on=add_months(now, REVIEW_AFTER_MONTHS).date(),
        actor=actor,
        now=now,
        case_id=case.id,
    )
    return CaseHold(hold, placed=True)
