"""What an exception covers: the evidence it was declared on, and nothing beyond it.

An exception is declared for what staff saw (a failover pair, one NAT): it keeps that
quiet, not the rule. A finding beyond the covered evidence (a third and fourth instance,
another network) goes through to its case as if there were no exception. Declared while
the license had a case, an exception covers the case's evidence then; declared without
one, it covers the first finding it holds quiet, recorded at that moment.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Mapping, Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.misuse.evidence import is_beyond
from licensing.misuse.findings import Finding
from licensing.models.misuse import MisuseCase, MisuseCaseEvent, MisuseException
from licensing.services.misuse_case_events import add_event
from licensing.services.misuse_exceptions import exceptions_for


def plain(evidence: Mapping[str, Any]) -> dict[str, Any]:
    """The evidence as the JSON column hands it back, so stored and new compare equal."""
    converted: dict[str, Any] = json.loads(json.dumps(dict(evidence), default=str))
    return converted


def covering(
    session: Session, license_id: uuid.UUID, finding: Finding, now: datetime
) -> Sequence[MisuseException]:
    """The active exceptions of the finding's license and rule that cover its evidence
    (empty: the finding goes through). An exception that covers nothing yet takes this
    finding's evidence as what it covers."""
    evidence = plain(finding.evidence)
    found = []
    for exception in exceptions_for(session, license_id, finding.rule, now):
        if exception.covered_evidence is None:
            exception.covered_evidence = evidence
            found.append(exception)
        elif not is_beyond(finding.rule, exception.covered_evidence, evidence):
            found.append(exception)
    return found


def note_held_quiet(
    session: Session,
    case: MisuseCase,
    held: Sequence[MisuseException],
    *,
    now: datetime,
    actor: str,
) -> None:
    """Record once per exception that it held the case's rule quiet."""
    noted = {
        str(event.detail.get("exception_id"))
        for event in session.scalars(
            select(MisuseCaseEvent).where(
                MisuseCaseEvent.case_id == case.id, MisuseCaseEvent.kind == "held_quiet"
            )
        )
    }
    for exception in held:
        if str(exception.id) not in noted:
            add_event(
                session,
                case,
                kind="held_quiet",
                actor=actor,
                now=now,
                detail={"exception_id": str(exception.id), "kind": exception.kind},
            )
