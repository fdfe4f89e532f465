"""Cases from findings: opened once, grown with a compact diff, reopened only on new
evidence, held quiet by an exception, and idempotent."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Finding, Rule, Severity
from licensing.models import AuditEvent
from licensing.models.misuse import CaseStatus, MisuseCase, MisuseCaseEvent, MisuseException
from licensing.services import misuse_exceptions
from licensing.services.misuse_cases import CaseChanges, apply_findings
from licensing.services.misuse_exceptions import ExceptionKind
from tests.factories import make_license

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
ALL = tuple(Rule)


def servers(*names: str, last: str = "2026-03-01T10:00:00Z") -> dict[str, Any]:
    return {
        "distinct_servers": len(names),
        "limit": 3,
        "servers": [
            {"server": n, "check_ins": 4, "first_seen": "2026-02-01T00:00:00Z", "last_seen": last}
            for n in names
        ],
        "first_seen": "2026-02-01T00:00:00Z",
        "last_seen": last,
        "ruled_out": "reinstalls",
    }


def spread(license_id: Any, evidence: dict[str, Any], last: datetime = NOW) -> Finding:
    return Finding(
        rule=Rule.SERVER_SPREAD,
        severity=Severity.MEDIUM,
        license_id=str(license_id),  # type: ignore[arg-type]  # ids become strings
        first_seen=NOW - timedelta(days=20),
        last_seen=last,
        summary=f"{evidence['distinct_servers']} distinct servers",
        evidence=evidence,
    )


def events(session: Session, case: MisuseCase) -> list[str]:
    return list(
        session.scalars(
            select(MisuseCaseEvent.kind)
            .where(MisuseCaseEvent.case_id == case.id)
            .order_by(MisuseCaseEvent.id)
        )
    )


def only_case(session: Session) -> MisuseCase:
    return session.scalars(select(MisuseCase)).one()


def audit_actions(session: Session) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.action.like("misuse_%"))
            .order_by(AuditEvent.seq)
        )
    )


def test_a_finding_opens_one_case_with_an_event_and_an_audit_record(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    finding = spread(lic.id, servers("a", "b", "c", "d"))

    changes = apply_findings(session, license_id=lic.id, rules=ALL, findings=[finding], now=NOW)

    assert changes == CaseChanges(opened=1)
    case = only_case(session)
    assert (case.license_id, case.rule, case.status) == (lic.id, "SERVER_SPREAD", "open")
    assert case.evidence["distinct_servers"] == 4
    assert case.last_seen == NOW
    assert events(session, case) == ["opened"]
    assert audit_actions(session) == ["misuse_case.opened"]
    event = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "misuse_case.opened")
    ).one()
    assert event.actor == "system:misuse-scan"
    assert event.data == {"license_id": str(lic.id), "rule": "SERVER_SPREAD", "severity": "medium"}


def test_the_same_findings_twice_change_nothing(session: Session, sealer: Sealer) -> None:
    lic = make_license(session, sealer).license
    finding = spread(lic.id, servers("a", "b", "c", "d"))
    apply_findings(session, license_id=lic.id, rules=ALL, findings=[finding], now=NOW)
    counted = session.scalar(select(func.count()).select_from(MisuseCaseEvent))

    again = apply_findings(
        session, license_id=lic.id, rules=ALL, findings=[finding], now=NOW + timedelta(hours=1)
    )

    assert again == CaseChanges()
    assert session.scalar(select(func.count()).select_from(MisuseCaseEvent)) == counted
    assert only_case(session).updated_at == NOW


def test_grown_evidence_is_stored_with_a_compact_diff(session: Session, sealer: Sealer) -> None:
    lic = make_license(session, sealer).license
    apply_findings(
        session,
        license_id=lic.id,
        rules=ALL,
        findings=[spread(lic.id, servers("a", "b", "c", "d"))],
        now=NOW,
    )
    later = NOW + timedelta(days=1)
    grown = spread(lic.id, servers("a", "b", "c", "d", "e", last="2026-03-02T10:00:00Z"), later)

    changes = apply_findings(session, license_id=lic.id, rules=ALL, findings=[grown], now=later)

    assert changes == CaseChanges(updated=1)
    case = only_case(session)
    assert case.evidence["distinct_servers"] == 5
    assert case.last_seen == later
    assert events(session, case) == ["opened", "evidence_updated"]
    event = session.scalars(
        select(MisuseCaseEvent).where(MisuseCaseEvent.kind == "evidence_updated")
    ).one()
    assert event.detail["new"] == {
        "servers": ["e"],
        "distinct_servers": {"was": 4, "now": 5},
    }
    assert event.detail["diff"]["servers"] == {"added": ["e"], "changed": ["a", "b", "c", "d"]}
    assert "ruled_out" not in event.detail["diff"]  # unchanged keys are left out
    assert audit_actions(session) == ["misuse_case.opened", "misuse_case.evidence_updated"]
    audited = session.scalars(
        select(AuditEvent).where(AuditEvent.action == "misuse_case.evidence_updated")
    ).one()
    assert audited.data["grew"] == ["distinct_servers", "servers"]


def test_time_passing_refreshes_the_case_without_an_event(session: Session, sealer: Sealer) -> None:
    lic = make_license(session, sealer).license
    apply_findings(
        session,
        license_id=lic.id,
        rules=ALL,
        findings=[spread(lic.id, servers("a", "b", "c", "d"))],
        now=NOW,
    )
    later = NOW + timedelta(days=1)
    same_later = spread(lic.id, servers("a", "b", "c", "d", last="2026-03-02T10:00:00Z"), later)

    changes = apply_findings(
        session, license_id=lic.id, rules=ALL, findings=[same_later], now=later
    )

    assert changes == CaseChanges()
    case = only_case(session)
    assert case.last_seen == later
    assert case.evidence["last_seen"] == "2026-03-02T10:00:00Z"
    assert events(session, case) == ["opened"]


def _dismiss(session: Session, case: MisuseCase) -> None:
    case.status = CaseStatus.DISMISSED.value
    case.decided_evidence = dict(case.evidence)
    session.flush()


def test_a_dismissed_case_stays_dismissed_when_only_time_moved(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    apply_findings(
        session,
        license_id=lic.id,
        rules=ALL,
        findings=[spread(lic.id, servers("a", "b", "c", "d"))],
        now=NOW,
    )
    _dismiss(session, only_case(session))
    later = NOW + timedelta(days=3)

    changes = apply_findings(
        session,
        license_id=lic.id,
        rules=ALL,
        findings=[spread(lic.id, servers("a", "b", "c", "d", last="2026-03-04T10:00:00Z"), later)],
        now=later,
    )

    assert changes == CaseChanges()
    assert only_case(session).status == "dismissed"


def test_a_dismissed_case_reopens_on_evidence_beyond_the_dismissal(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    apply_findings(
        session,
        license_id=lic.id,
        rules=ALL,
        findings=[spread(lic.id, servers("a", "b", "c", "d"))],
        now=NOW,
    )
    case = only_case(session)
    _dismiss(session, case)
    case.escalation_step = None
    later = NOW + timedelta(days=3)

    changes = apply_findings(
        session,
        license_id=lic.id,
        rules=ALL,
        findings=[spread(lic.id, servers("a", "b", "c", "d", "x"), later)],
        now=later,
        actor="test:scan",
    )

    assert changes == CaseChanges(reopened=1)
    assert case.status == "open"
    assert events(session, case) == ["opened", "reopened"]
    reopened = session.scalars(
        select(MisuseCaseEvent).where(MisuseCaseEvent.kind == "reopened")
    ).one()
    assert reopened.detail["new"]["servers"] == ["x"]
    assert reopened.actor == "test:scan"
    assert audit_actions(session) == ["misuse_case.opened", "misuse_case.reopened"]


def declare(session: Session, lic: Any, rule: Rule = Rule.SERVER_SPREAD) -> MisuseException:
    return misuse_exceptions.declare(
        session,
        license=lic,
        rule=rule,
        kind=ExceptionKind.FAILOVER_SERVER,
        reason="DR pair",
        ends_at=NOW + timedelta(days=30),
        actor="test:staff",
        now=NOW - timedelta(days=1),
    )


def test_an_exception_holds_the_rule_quiet_and_the_case_records_it_once(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    quiet = spread(lic.id, servers("a", "b", "c", "d"))
    exception = declare(session, lic)

    assert apply_findings(
        session, license_id=lic.id, rules=ALL, findings=[quiet], now=NOW
    ) == CaseChanges(quiet=1)
    assert session.scalars(select(MisuseCase)).all() == []

    # A case opened before the exception: not updated, and told once that it was held.
    exception.declared_at = NOW + timedelta(days=1)
    session.flush()
    apply_findings(session, license_id=lic.id, rules=ALL, findings=[quiet], now=NOW)
    exception.declared_at = NOW - timedelta(days=1)
    session.flush()
    later = spread(lic.id, servers("a", "b", "c", "d", last="2026-03-02T10:00:00Z"))
    for _ in range(2):
        changes = apply_findings(session, license_id=lic.id, rules=ALL, findings=[later], now=NOW)
        assert changes == CaseChanges(quiet=1)
    case = only_case(session)
    assert case.evidence["last_seen"] == "2026-03-01T10:00:00Z"  # held: not even refreshed
    assert events(session, case) == ["opened", "held_quiet"]

    # Once the exception has ended, the rule speaks again.
    after = NOW + timedelta(days=31)
    grown = spread(lic.id, servers("a", "b", "c", "d", "e"))
    assert apply_findings(
        session, license_id=lic.id, rules=ALL, findings=[grown], now=after
    ) == CaseChanges(updated=1)


def overstay(license_id: Any, *activations: str) -> Finding:
    return Finding(
        rule=Rule.MIGRATION_OVERSTAY,
        severity=Severity.MEDIUM,
        license_id=str(license_id),  # type: ignore[arg-type]  # ids become strings
        first_seen=NOW - timedelta(days=20),
        last_seen=NOW,
        summary=f"{len(activations)} instances side by side",
        evidence={
            "instances": len(activations),
            "activation_ids": [{"activation_id": a} for a in activations],
        },
    )


def test_an_exception_covers_the_evidence_of_the_case_it_was_declared_on(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    pair = overstay(lic.id, "a1", "a2")
    apply_findings(session, license_id=lic.id, rules=ALL, findings=[pair], now=NOW)
    case = only_case(session)
    exception = declare(session, lic, Rule.MIGRATION_OVERSTAY)
    assert exception.covered_evidence == case.evidence

    # The failover pair again: held quiet.
    held = apply_findings(session, license_id=lic.id, rules=ALL, findings=[pair], now=NOW)
    assert held == CaseChanges(quiet=1)
    # A third and a fourth instance are not what was declared legitimate.
    four = overstay(lic.id, "a1", "a2", "a3", "a4")
    grown = apply_findings(session, license_id=lic.id, rules=ALL, findings=[four], now=NOW)
    assert grown == CaseChanges(updated=1)
    assert case.evidence["instances"] == 4
    assert events(session, case) == ["opened", "held_quiet", "evidence_updated"]
    assert exception.covered_evidence["instances"] == 2  # what it covers does not grow


def test_an_exception_beyond_its_evidence_reopens_a_dismissed_case(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    apply_findings(
        session, license_id=lic.id, rules=ALL, findings=[overstay(lic.id, "a1", "a2")], now=NOW
    )
    case = only_case(session)
    _dismiss(session, case)
    declare(session, lic, Rule.MIGRATION_OVERSTAY)

    three = overstay(lic.id, "a1", "a2", "a3")
    changes = apply_findings(session, license_id=lic.id, rules=ALL, findings=[three], now=NOW)

    assert changes == CaseChanges(reopened=1)
    assert case.status == CaseStatus.OPEN


def test_an_exception_declared_without_a_case_covers_the_first_finding_it_holds(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    exception = declare(session, lic, Rule.MIGRATION_OVERSTAY)
    assert exception.covered_evidence is None

    pair = overstay(lic.id, "a1", "a2")
    held = apply_findings(session, license_id=lic.id, rules=ALL, findings=[pair], now=NOW)

    assert held == CaseChanges(quiet=1)
    assert exception.covered_evidence == {
        "instances": 2,
        "activation_ids": [{"activation_id": "a1"}, {"activation_id": "a2"}],
    }
    assert apply_findings(
        session, license_id=lic.id, rules=ALL, findings=[pair], now=NOW
    ) == CaseChanges(quiet=1)
    # Another activation in place of one of the pair is beyond it too.
    swapped = overstay(lic.id, "a1", "b9")
    assert apply_findings(
        session, license_id=lic.id, rules=ALL, findings=[swapped], now=NOW
    ) == CaseChanges(opened=1)
    assert only_case(session).evidence["activation_ids"][1] == {"activation_id": "b9"}


def test_one_case_per_license_and_rule(session: Session, sealer: Sealer) -> None:
    first = make_license(session, sealer).license
    second = make_license(session, sealer).license
    for lic in (first, second):
        apply_findings(
            session,
            license_id=lic.id,
            rules=ALL,
            findings=[spread(lic.id, servers("a", "b", "c", "d"))],
            now=NOW,
        )
    assert session.scalar(select(func.count()).select_from(MisuseCase)) == 2


def test_findings_for_rules_not_evaluated_are_a_programming_error(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    with pytest.raises(ValueError, match="not evaluated"):
        apply_findings(
            session,
            license_id=lic.id,
            rules=[Rule.NETWORK_SPREAD],
            findings=[spread(lic.id, servers("a", "b", "c", "d"))],
            now=NOW,
        )


def test_a_caller_that_looked_the_exceptions_up_passes_them(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    finding = spread(lic.id, servers("a", "b", "c", "d"))
    declare(session, lic)

    held = apply_findings(
        session,
        license_id=lic.id,
        rules=ALL,
        findings=[finding],
        now=NOW,
        excepted=frozenset({Rule.SERVER_SPREAD}),
    )
    assert held == CaseChanges(quiet=1)
    assert session.scalars(select(MisuseCase)).all() == []

    opened = apply_findings(
        session, license_id=lic.id, rules=ALL, findings=[finding], now=NOW, excepted=frozenset()
    )
    assert opened == CaseChanges(opened=1)


def test_changes_add_up_for_a_scan_summary() -> None:
    total = CaseChanges(opened=1, quiet=2) + CaseChanges(updated=3, reopened=1)
    assert total.to_json() == {"opened": 1, "updated": 3, "reopened": 1, "quiet": 2}
