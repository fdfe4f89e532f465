"""Reading cases: the queue, one case with its history, and per-rule figures."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass

from sqlalchemy import case as when
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.misuse.findings import Rule
from licensing.models.misuse import CaseStatus, MisuseCase, MisuseCaseEvent
from licensing.services.misuse_references import by_prefix

# The queue puts what matters most first: high before low, then the newest evidence.
_SEVERITY_ORDER = when({"high": 0, "medium": 1, "low": 2}, value=MisuseCase.severity, else_=3)


def list_cases(
    session: Session,
    *,
    rule: Rule | None = None,
    status: CaseStatus | None = None,
    severity: str | None = None,
    license_id: uuid.UUID | None = None,
    assignee: str | None = None,
    limit: int | None = None,
    offset: int = 0,
) -> Sequence[MisuseCase]:
    """The queue, filtered; ``limit`` and ``offset`` page it (the console shows 50 a page)."""
    query = select(MisuseCase).order_by(_SEVERITY_ORDER, MisuseCase.last_seen.desc(), MisuseCase.id)
    if rule is not None:
        query = query.where(MisuseCase.rule == rule.value)
    if status is not None:
        query = query.where(MisuseCase.status == status.value)
    if severity is not None:
        query = query.where(MisuseCase.severity == severity)
    if license_id is not None:
        query = query.where(MisuseCase.license_id == license_id)
    if assignee is not None:
        query = query.where(MisuseCase.assignee == assignee)
    if limit is not None:
        query = query.limit(limit).offset(offset)
    return session.scalars(query).all()


def find_case(session: Session, reference: str, *, for_update: bool = False) -> MisuseCase:
    """A case by its id or a unique prefix of it (at least 8 hex digits); ``for_update``
    locks it for a staff action (see ``misuse_references.by_prefix``)."""
    return by_prefix(session, MisuseCase, reference, noun="case", for_update=for_update)


def case_events(session: Session, case: MisuseCase) -> Sequence[MisuseCaseEvent]:
    """The case's history, oldest first."""
    return session.scalars(
        select(MisuseCaseEvent)
        .where(MisuseCaseEvent.case_id == case.id)
        .order_by(MisuseCaseEvent.at, MisuseCaseEvent.id)
    ).all()


@dataclass(frozen=True, slots=True)
class RuleStats:
    """How a rule's cases were decided: dismissed among decided is its measured
    false-positive rate (None until a case of the rule has been decided)."""

    rule: Rule
    opened: int
    reopened: int
    open: int
    confirmed: int
    dismissed: int

    @property
    def false_positive_rate(self) -> float | None:
        decided = self.confirmed + self.dismissed
        return self.dismissed / decided if decided else None


def rule_stats(session: Session) -> list[RuleStats]:
    """Every rule, in the rules' order, with zeros for a rule without cases."""
    by_status: dict[tuple[str, str], int] = {
        (rule, status): count
        for rule, status, count in session.execute(
            select(MisuseCase.rule, MisuseCase.status, func.count()).group_by(
                MisuseCase.rule, MisuseCase.status
            )
        )
    }
    reopened: dict[str, int] = {
        rule: count
        for rule, count in session.execute(
            select(MisuseCase.rule, func.count())
            .join(MisuseCaseEvent, MisuseCaseEvent.case_id == MisuseCase.id)
            .where(MisuseCaseEvent.kind == "reopened")
            .group_by(MisuseCase.rule)
        )
    }
    stats = []
    for rule in Rule:
        counts = {status: by_status.get((rule.value, status.value), 0) for status in CaseStatus}
        stats.append(
            RuleStats(
                rule=rule,
                opened=sum(counts.values()),
                reopened=reopened.get(rule.value, 0),
                open=counts[CaseStatus.OPEN],
                confirmed=counts[CaseStatus.CONFIRMED],
                dismissed=counts[CaseStatus.DISMISSED],
            )
        )
    return stats
