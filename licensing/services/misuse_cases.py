"""Cases from findings: one case per (license, rule), opened, grown, reopened or held quiet.

The scan calls ``apply_findings`` once per license with what its rules found. A case
keeps the newest evidence; its events keep how it grew. A dismissed case stays dismissed
until the evidence goes beyond what it was dismissed on (``misuse/evidence.py``); an
exception holds quiet only the evidence it covers (``misuse_exception_cover``).
"""

from __future__ import annotations

import uuid
from collections.abc import Collection, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.misuse.evidence import evidence_diff, new_evidence
from licensing.misuse.findings import Finding, Rule
from licensing.models.misuse import CaseStatus, MisuseCase
from licensing.services.misuse_case_events import add_event, audit_case
from licensing.services.misuse_exception_cover import covering, note_held_quiet
from licensing.services.misuse_exception_cover import plain as _plain
from licensing.services.misuse_exceptions import active_exceptions

SCAN_ACTOR = "system:misuse-scan"
_SUMMARY_LENGTH = 500


@dataclass(frozen=True, slots=True)
class CaseChanges:
    """What one application of findings changed; scans add them up."""

    opened: int = 0
    updated: int = 0
    reopened: int = 0
    quiet: int = 0

    def __add__(self, other: CaseChanges) -> CaseChanges:
        return CaseChanges(
            self.opened + other.opened,
            self.updated + other.updated,
            self.reopened + other.reopened,
            self.quiet + other.quiet,
        )

    def to_json(self) -> dict[str, int]:
        return {
            "opened": self.opened,
            "updated": self.updated,
            "reopened": self.reopened,
            "quiet": self.quiet,
        }


def apply_findings(
    session: Session,
    *,
    license_id: uuid.UUID,
    rules: Collection[Rule],
    findings: Sequence[Finding],
    now: datetime,
    actor: str = SCAN_ACTOR,
    excepted: Collection[Rule] | None = None,
) -> CaseChanges:
    """Open, grow or reopen the license's cases from ``findings`` (what fired among
    ``rules``, the rules evaluated). Idempotent: the same findings again change nothing.

    Pass the findings of rules under an active exception too: those within what an
    exception covers are held quiet here (counted in ``quiet``, and an existing case notes
    once that the exception held it); those beyond it go through to their case.
    ``excepted``: those rules, when the caller already looked them up for many licenses
    at once (``active_exceptions``); otherwise they are looked up here.
    """
    if not findings:
        return CaseChanges()
    stray = {f.rule for f in findings} - set(rules)
    if stray:
        raise ValueError(f"findings for rules that were not evaluated: {sorted(stray)}")
    if excepted is None:
        excepted = active_exceptions(session, [license_id], now).get(license_id, frozenset())
    quiet_rules = frozenset(excepted)
    cases = {
        case.rule: case
        for case in session.scalars(select(MisuseCase).where(MisuseCase.license_id == license_id))
    }
    changes = CaseChanges()
    for finding in findings:
        case = cases.get(finding.rule.value)
        held = covering(session, license_id, finding, now) if finding.rule in quiet_rules else ()
        if held:
            changes += CaseChanges(quiet=1)
            if case is not None:
                note_held_quiet(session, case, held, now=now, actor=actor)
            continue
        if case is None:
            cases[finding.rule.value] = _open(session, license_id, finding, now=now, actor=actor)
            changes += CaseChanges(opened=1)
        elif case.status == CaseStatus.DISMISSED:
            if _reopen(session, case, finding, now=now, actor=actor):
                changes += CaseChanges(reopened=1)
        elif _grow(session, case, finding, now=now, actor=actor):
            changes += CaseChanges(updated=1)
    session.flush()
    return changes


def _open(
    session: Session, license_id: uuid.UUID, finding: Finding, *, now: datetime, actor: str
) -> MisuseCase:
    case = MisuseCase(
        id=uuid.uuid4(),
        license_id=license_id,
        rule=finding.rule.value,
        status=CaseStatus.OPEN.value,
        opened_at=now,
    )
    _take(case, finding, now=now)
    session.add(case)
    session.flush()
    add_event(session, case, kind="opened", actor=actor, now=now, detail={"summary": case.summary})
    audit_case(
        session, case, action="opened", actor=actor, now=now, data={"severity": case.severity}
    )
    return case


def _take(case: MisuseCase, finding: Finding, *, now: datetime) -> None:
    """The case shows the finding: severity, summary, evidence and when it was seen."""
    case.severity = finding.severity.value
    case.summary = finding.summary[:_SUMMARY_LENGTH]
    case.evidence = _plain(finding.evidence)
    case.first_seen = min(finding.first_seen, case.first_seen or finding.first_seen)
    case.last_seen = finding.last_seen
    case.updated_at = now


def _grow(
    session: Session, case: MisuseCase, finding: Finding, *, now: datetime, actor: str
) -> bool:
    """Keep an open or confirmed case's evidence current; an event when it grew."""
    evidence = _plain(finding.evidence)
    if evidence == case.evidence and finding.last_seen == case.last_seen:
        return False
    beyond = new_evidence(finding.rule, case.evidence, evidence)
    diff = evidence_diff(case.evidence, evidence)
    _take(case, finding, now=now)
    if not beyond:
        # Only time moved (later last_seen, more check-ins from the same places): the case
        # shows it, but that is not a change a reviewer needs to hear about.
        return False
    add_event(
        session,
        case,
        kind="evidence_updated",
        actor=actor,
        now=now,
        detail={"new": beyond, "diff": diff},
    )
    # What grew, by kind only: the values (servers, networks) stay in the case.
    audit_case(
        session,
        case,
        action="evidence_updated",
        actor=actor,
        now=now,
        data={"grew": sorted(beyond)},
    )
    return True


def _reopen(
    session: Session, case: MisuseCase, finding: Finding, *, now: datetime, actor: str
) -> bool:
    """Reopen a dismissed case only on evidence beyond what it was dismissed on."""
    evidence = _plain(finding.evidence)
    beyond = new_evidence(finding.rule, case.decided_evidence, evidence)
    if not beyond:
        return False
    diff = evidence_diff(case.evidence, evidence)
    _take(case, finding, now=now)
    case.status = CaseStatus.OPEN.value
    case.escalation_step = None
    case.escalated_at = None
    add_event(
        session, case, kind="reopened", actor=actor, now=now, detail={"new": beyond, "diff": diff}
    )
    audit_case(
        session, case, action="reopened", actor=actor, now=now, data={"severity": case.severity}
    )
    return True
