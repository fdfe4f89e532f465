"""A case's two records of every change: its own history (events) and the audit log."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from licensing.models.misuse import MisuseCase, MisuseCaseEvent
from licensing.services import audit


def add_event(
    session: Session,
    case: MisuseCase,
    *,
    kind: str,
    actor: str,
    now: datetime,
    detail: Mapping[str, Any] | None = None,
) -> MisuseCaseEvent:
    event = MisuseCaseEvent(
        case_id=case.id, at=now, actor=actor, kind=kind, detail=dict(detail or {})
    )
    session.add(event)
    return event


def audit_case(
    session: Session,
    case: MisuseCase,
    *,
    action: str,
    actor: str,
    now: datetime,
    data: Mapping[str, Any] | None = None,
) -> None:
    """An audit event about a case: ids, rule and state only, never evidence values."""
    audit.record(
        session,
        actor=actor,
        action=f"misuse_case.{action}",
        subject_type="misuse_case",
        subject_id=case.id,
        data={"license_id": str(case.license_id), "rule": case.rule, **(data or {})},
        now=now,
    )
