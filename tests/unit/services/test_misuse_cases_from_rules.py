"""Cases from what the real rules find: eight cases, nothing new when only time moves, and
a dismissed case reopens on what the rule's evidence really holds."""

from __future__ import annotations

import dataclasses
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Rule
from licensing.misuse.rules import evaluate
from licensing.misuse.thresholds import Thresholds
from licensing.models.misuse import MisuseCase, MisuseCaseEvent
from licensing.services import misuse_case_actions as actions
from licensing.services.misuse_cases import CaseChanges, apply_findings
from tests.factories import make_license
from tests.unit.misuse.histories import NOW, daily
from tests.unit.misuse.test_rules import _everything_at_once

ALL = tuple(Rule)


def test_real_findings_open_eight_cases_and_time_alone_changes_no_decision(
    session: Session, sealer: Sealer
) -> None:
    lic = make_license(session, sealer).license
    history = _everything_at_once()

    def apply(at_hours: float, h: object = history) -> CaseChanges:
        now = NOW + timedelta(hours=at_hours)
        findings = evaluate(h, Thresholds(), now)  # type: ignore[arg-type]
        return apply_findings(session, license_id=lic.id, rules=ALL, findings=findings, now=now)

    assert apply(0) == CaseChanges(opened=8)
    assert apply(0) == CaseChanges()
    events = session.scalar(select(func.count()).select_from(MisuseCaseEvent))
    assert apply(1) == CaseChanges()  # the same history an hour later: nothing grew
    assert session.scalar(select(func.count()).select_from(MisuseCaseEvent)) == events

    for case in session.scalars(select(MisuseCase)):
        actions.dismiss(session, case, reason="reviewed", actor="test:staff", now=NOW)
    assert apply(2) == CaseChanges()
    assert {c.status for c in session.scalars(select(MisuseCase))} == {"dismissed"}

    # An instance already in the evidence moves to one more site for its last day: a new
    # server and a new network for the spread rules, and for the revoked key calling home;
    # the same instances side by side, no clone, the same versions, churn and failures.
    grown = dataclasses.replace(
        history,
        observations=(
            *history.observations,
            *daily(10, 0, network="203.0.99.0/24", server="host-99", version="3.0"),
        ),
    )
    changes = apply(3, grown)
    reopened = {
        c.rule for c in session.scalars(select(MisuseCase).where(MisuseCase.status == "open"))
    }
    assert reopened == {"SERVER_SPREAD", "NETWORK_SPREAD", "REVOKED_CALLING_HOME"}
    assert changes.reopened == 3
    reasons = {
        c.rule: e.detail["new"]
        for c in session.scalars(select(MisuseCase).where(MisuseCase.status == "open"))
        for e in session.scalars(
            select(MisuseCaseEvent).where(
                MisuseCaseEvent.case_id == c.id, MisuseCaseEvent.kind == "reopened"
            )
        )
    }
    assert reasons["SERVER_SPREAD"] == {
        "servers": ["host-99"],
        "distinct_servers": {"was": 8, "now": 9},
    }
    assert reasons["NETWORK_SPREAD"]["networks"] == ["203.0.99.0/24"]
    assert reasons["REVOKED_CALLING_HOME"] == {
        "networks": ["203.0.99.0/24"],
        "servers": {"was": 8, "now": 9},
    }
