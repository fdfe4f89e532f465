"""Exceptions: a legitimate pattern staff declared for a license and rule, until a date.

While an exception is active, the rule stays quiet for that license as far as the
evidence it covers goes (``misuse_exception_cover``): a finding beyond it still opens or
updates the case. The reason stays in the exception's row; the audit log records the
declaration by ids. Exceptions end on their date or earlier by a staff action; they
are never deleted, so a case can show what held it quiet and who declared it.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Collection, Mapping, Sequence
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from sqlalchemy import ColumnElement, and_, select
from sqlalchemy.orm import Session

from licensing.errors import InvalidRequest, InvalidTransition
from licensing.misuse.findings import Rule
from licensing.models import License
from licensing.models.misuse import MisuseCase, MisuseException
from licensing.services import audit
from licensing.services.misuse_references import by_prefix
from licensing.timeutil import rfc3339

# An exception is a decision to look away; a year is long enough for any failover pair
# and short enough that someone looks again.
LONGEST_EXCEPTION = timedelta(days=366)
# Bound parameters per query: SQLite allows 32,766, and a scan asks for thousands at once.
_CHUNK = 500


class ExceptionKind(StrEnum):
    FAILOVER_SERVER = "failover_server"
    NAT = "nat"
    TEST_SERVER = "test_server"
    OTHER = "other"


def _active(now: datetime) -> ColumnElement[bool]:
    return and_(
        MisuseException.ended_at.is_(None),
        MisuseException.ends_at > now,
        MisuseException.declared_at <= now,
    )


def active_exceptions(
    session: Session, license_ids: Collection[uuid.UUID], now: datetime
) -> Mapping[uuid.UUID, frozenset[Rule]]:
    """Per license (only those with any), the rules with an active exception: the
    candidates for holding quiet (what each covers is checked per finding)."""
    known = {rule.value: rule for rule in Rule}
    found: dict[uuid.UUID, set[Rule]] = defaultdict(set)
    ids = list(dict.fromkeys(license_ids))
    for start in range(0, len(ids), _CHUNK):
        rows = session.execute(
            select(MisuseException.license_id, MisuseException.rule).where(
                MisuseException.license_id.in_(ids[start : start + _CHUNK]), _active(now)
            )
        )
        for license_id, rule in rows:
            if rule in known:
                found[license_id].add(known[rule])
    return {license_id: frozenset(rules) for license_id, rules in found.items()}


def exceptions_for(
    session: Session, license_id: uuid.UUID, rule: Rule | str, now: datetime
) -> Sequence[MisuseException]:
    """The active exceptions for one license and rule (what a case page lists)."""
    return session.scalars(
        select(MisuseException)
        .where(
            MisuseException.license_id == license_id,
            MisuseException.rule == str(rule),
            _active(now),
        )
        .order_by(MisuseException.declared_at)
    ).all()


def declare(
    session: Session,
    *,
    license: License,
    rule: Rule,
    kind: ExceptionKind,
    reason: str,
    ends_at: datetime,
    actor: str,
    now: datetime,
) -> MisuseException:
    """Declare that ``rule`` firing for ``license`` is legitimate until ``ends_at``, for
    the evidence the license's case of the rule shows now (without a case, for the first
    finding the exception holds quiet)."""
    if not reason.strip():
        raise InvalidRequest("say why the pattern is legitimate: the reason must not be empty")
    if ends_at <= now:
        raise InvalidRequest("the exception must end in the future")
    if ends_at - now > LONGEST_EXCEPTION:
        raise InvalidRequest(
            f"an exception lasts at most {LONGEST_EXCEPTION.days} days; declare a new one then"
        )
    exception = MisuseException(
        license_id=license.id,
        rule=rule.value,
        kind=kind.value,
        reason=reason.strip(),
        declared_by=actor,
        declared_at=now,
        ends_at=ends_at,
        covered_evidence=_case_evidence(session, license.id, rule),
    )
    session.add(exception)
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="misuse_exception.declared",
        subject_type="misuse_exception",
        subject_id=exception.id,
        data={
            "license_id": str(license.id),
            "rule": rule.value,
            "kind": kind.value,
            "ends_at": rfc3339(ends_at),
            "covers_case_evidence": exception.covered_evidence is not None,
        },
        now=now,
    )
    return exception


def _case_evidence(session: Session, license_id: uuid.UUID, rule: Rule) -> dict[str, Any] | None:
    evidence = session.scalar(
        select(MisuseCase.evidence).where(
            MisuseCase.license_id == license_id, MisuseCase.rule == rule.value
        )
    )
    return dict(evidence) if evidence is not None else None


def list_exceptions(
    session: Session,
    *,
    now: datetime,
    active_only: bool = True,
    license_id: uuid.UUID | None = None,
    rule: Rule | None = None,
) -> Sequence[MisuseException]:
    query = select(MisuseException).order_by(MisuseException.declared_at, MisuseException.id)
    if active_only:
        query = query.where(_active(now))
    if license_id is not None:
        query = query.where(MisuseException.license_id == license_id)
    if rule is not None:
        query = query.where(MisuseException.rule == rule.value)
    return session.scalars(query).all()


def find_exception(session: Session, reference: str) -> MisuseException:
    """An exception by its id or a unique prefix of it (at least 8 hex digits)."""
    return by_prefix(session, MisuseException, reference, noun="exception")


def end(
    session: Session, exception: MisuseException, *, actor: str, now: datetime
) -> MisuseException:
    """End an exception now: the rule speaks again for the license from the next scan."""
    if exception.ended_at is not None or exception.ends_at <= now:
        raise InvalidTransition("this exception has already ended")
    exception.ended_at = now
    exception.ended_by = actor
    session.flush()
    audit.record(
        session,
        actor=actor,
        action="misuse_exception.ended",
        subject_type="misuse_exception",
        subject_id=exception.id,
        data={"license_id": str(exception.license_id), "rule": exception.rule},
        now=now,
    )
    return exception


def state(exception: MisuseException, now: datetime) -> str:
    """``active``, ``ended`` (by staff) or ``expired`` (its date passed)."""
    if exception.ended_at is not None:
        return "ended"
    return "active" if exception.ends_at > now else "expired"
