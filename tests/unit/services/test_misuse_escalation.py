"""Escalating a confirmed case: the suspend step is taken only by who may suspend."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import Forbidden
from licensing.misuse.ladder import LadderPeriods
from licensing.models import License, LicenseStatus
from licensing.models.misuse import EscalationStep, MisuseCase
from licensing.services import misuse_case_actions as actions
from licensing.timeutil import utcnow
from tests.factories import make_license
from tests.functional.cli.misuse_helpers import audit_actions, open_case

NOW = utcnow().replace(microsecond=0)
PERIODS = LadderPeriods(notice_days=14, final_notice_days=14)


def _confirmed(session: Session, sealer: Sealer) -> MisuseCase:
    case = open_case(session, make_license(session, sealer).license, now=NOW - timedelta(days=60))
    actions.confirm(
        session, case, reason="four hosts", actor="test:pytest", now=NOW - timedelta(days=60)
    )
    return case


def _status(session: Session, case: MisuseCase) -> str:
    license = session.get(License, case.license_id)
    assert license is not None
    return str(license.status)


def _step(session: Session, case: MisuseCase, *, at: timedelta, may_suspend: bool) -> None:
    actions.escalate(
        session, case, actor="staff:x", now=NOW - at, periods=PERIODS, may_suspend=may_suspend
    )


def test_without_may_suspend_the_steps_before_suspending_are_taken(
    session: Session, sealer: Sealer
) -> None:
    case = _confirmed(session, sealer)
    _step(session, case, at=timedelta(days=50), may_suspend=False)
    assert case.escalation_step == EscalationStep.NOTIFY_CUSTOMER
    _step(session, case, at=timedelta(days=30), may_suspend=False)
    assert case.escalation_step == EscalationStep.FINAL_NOTICE


def test_without_may_suspend_the_suspend_step_is_refused_and_nothing_changes(
    session: Session, sealer: Sealer
) -> None:
    case = _confirmed(session, sealer)
    _step(session, case, at=timedelta(days=50), may_suspend=False)
    _step(session, case, at=timedelta(days=30), may_suspend=False)
    before = audit_actions(session, case.id)
    with pytest.raises(Forbidden, match="an admin takes this step"):
        _step(session, case, at=timedelta(0), may_suspend=False)
    assert case.escalation_step == EscalationStep.FINAL_NOTICE
    assert _status(session, case) == LicenseStatus.ACTIVE
    assert audit_actions(session, case.id) == before


def test_with_may_suspend_the_suspend_step_suspends_the_license(
    session: Session, sealer: Sealer
) -> None:
    case = _confirmed(session, sealer)
    _step(session, case, at=timedelta(days=50), may_suspend=True)
    _step(session, case, at=timedelta(days=30), may_suspend=True)
    _step(session, case, at=timedelta(0), may_suspend=True)
    assert case.escalation_step == EscalationStep.SUSPEND
    assert _status(session, case) == LicenseStatus.SUSPENDED
