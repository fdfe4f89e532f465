"""Cases for the misuse commands to work on, opened as the scan opens them."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.misuse.findings import Finding, Rule, Severity
from licensing.models import AuditEvent, License
from licensing.models.misuse import MisuseCase
from licensing.services.misuse_cases import apply_findings
from licensing.timeutil import utcnow

SEVERITIES = {
    Rule.SERVER_SPREAD: Severity.MEDIUM,
    Rule.NETWORK_SPREAD: Severity.LOW,
    Rule.CLONED_INSTANCE: Severity.HIGH,
}


def spread_evidence(*servers: str) -> dict[str, Any]:
    return {
        "distinct_servers": len(servers),
        "limit": 3,
        "servers": [
            {
                "server": s,
                "check_ins": 3,
                "activations": ["a1"],
                "last_seen": "2026-11-30T08:00:00Z",
            }
            for s in servers
        ],
        "networks": 1,
        "first_seen": "2026-11-01T08:00:00Z",
        "last_seen": "2026-11-30T08:00:00Z",
        "ruled_out": "reinstalls, renames and migrations: up to 3 servers per allowed activation",
    }


def open_case(
    session: Session,
    license: License,
    rule: Rule = Rule.SERVER_SPREAD,
    evidence: dict[str, Any] | None = None,
    *,
    now: datetime | None = None,
) -> MisuseCase:
    now = now or utcnow()
    finding = Finding(
        rule=rule,
        severity=SEVERITIES.get(rule, Severity.MEDIUM),
        license_id=str(license.id),  # type: ignore[arg-type]  # ids are the UUID's text
        first_seen=now - timedelta(days=20),
        last_seen=now - timedelta(hours=1),
        summary=f"{rule.value} for {license.key_hint}",
        evidence=evidence or spread_evidence("s1", "s2", "s3", "s4"),
    )
    apply_findings(session, license_id=license.id, rules=[rule], findings=[finding], now=now)
    case = session.scalars(
        select(MisuseCase).where(MisuseCase.license_id == license.id, MisuseCase.rule == rule.value)
    ).one()
    return case


def audit_actions(session: Session, subject_id: object) -> list[str]:
    return list(
        session.scalars(
            select(AuditEvent.action)
            .where(AuditEvent.subject_id == str(subject_id))
            .order_by(AuditEvent.seq)
        )
    )
