"""The backtest: one rule replayed over the retained history under proposed thresholds,
beside the same rule under the thresholds in force, writing nothing.

Staff tune a rule before switching the change on: how many licenses it would flag, how
many of those already have a case for the rule and what was decided, and how that
differs from today's thresholds. The scan's own history builder and rules run here, so a
backtest and the scan cannot disagree about what a threshold does.
"""

from __future__ import annotations

import math
import uuid
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.errors import InvalidRequest
from licensing.misuse import rules
from licensing.misuse.findings import Finding, Rule
from licensing.misuse.thresholds import MAX_LOOKBACK_DAYS, Thresholds
from licensing.models import License
from licensing.models.misuse import MisuseCase
from licensing.services.misuse_exceptions import active_exceptions
from licensing.services.misuse_history import HistorySource
from licensing.services.misuse_scan import CHUNK_SIZE

EXAMPLES = 10


@dataclass(frozen=True, slots=True)
class BacktestReport:
    rule: Rule
    proposed: Mapping[str, int]  # the thresholds the proposal changes, with their values
    since: datetime
    licenses_evaluated: int
    flagged: int  # under the proposed thresholds
    flagged_now: int  # under the thresholds in force
    newly_flagged: int  # flagged by the proposal, not today
    no_longer_flagged: int  # flagged today, not by the proposal
    cases: Mapping[str, int]  # the flagged licenses' cases for the rule, by status
    quiet_by_exception: int  # flagged, but an active exception holds the rule quiet
    examples: Sequence[Mapping[str, Any]]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.value,
            "proposed": dict(self.proposed),
            "since": self.since,
            "licenses_evaluated": self.licenses_evaluated,
            "flagged": self.flagged,
            "flagged_now": self.flagged_now,
            "difference": self.flagged - self.flagged_now,
            "newly_flagged": self.newly_flagged,
            "no_longer_flagged": self.no_longer_flagged,
            "cases": dict(self.cases),
            "quiet_by_exception": self.quiet_by_exception,
            "examples": list(self.examples),
        }


def rule_named(name: str) -> Rule:
    """The rule called ``name`` (any case), or an error listing the known ones."""
    try:
        return Rule(name.strip().upper())
    except ValueError:
        known = ", ".join(rule.value for rule in Rule)
        raise InvalidRequest(f"unknown misuse rule {name!r}; known: {known}") from None


def proposal(
    changes: Mapping[str, str], current: Thresholds, *, now: datetime, since: datetime | None
) -> tuple[Thresholds, Thresholds]:
    """The thresholds in force and the proposed ones, both reading back to ``since`` when
    given (unless the proposal sets ``lookback_days`` itself)."""
    if since is not None:
        if since >= now:
            raise InvalidRequest("--since must be in the past")
        if now - since > timedelta(days=MAX_LOOKBACK_DAYS):
            raise InvalidRequest(
                f"--since must be within the last {MAX_LOOKBACK_DAYS} days (the retained history)"
            )
        current = replace(current, lookback_days=math.ceil((now - since) / timedelta(days=1)))
    try:
        return current, Thresholds.from_mapping(changes, base=current)
    except ValueError as exc:
        raise InvalidRequest(str(exc)) from None


def backtest(
    session: Session,
    *,
    rule: Rule,
    current: Thresholds,
    proposed: Thresholds,
    now: datetime,
    chunk_size: int = CHUNK_SIZE,
) -> BacktestReport:
    """Replay ``rule`` over the retained history of every license whose processing is not
    restricted, under both thresholds."""
    lookback = max(current.lookback, proposed.lookback)
    # Sums over the days are read for one lookback: two different ones read day by day.
    source = HistorySource(
        session, now=now, lookback=lookback, summed=current.lookback == proposed.lookback
    )
    # As the scan does: a license whose processing is restricted (a restriction, or an
    # objection to processing on legitimate interests) is not replayed either.
    ids = list(
        session.scalars(
            select(License.id).where(License.processing_restricted.is_(False)).order_by(License.id)
        )
    )
    flagged: dict[uuid.UUID, Finding] = {}
    flagged_now: set[uuid.UUID] = set()
    evaluated = 0
    for start in range(0, len(ids), chunk_size):
        for history in source.histories(ids[start : start + chunk_size], consecutive=True):
            evaluated += 1
            license_id = uuid.UUID(history.license_id)
            found = rules.RULES[rule](history, proposed, now)
            if found:
                flagged[license_id] = found[0]
            if rules.RULES[rule](history, current, now):
                flagged_now.add(license_id)
    return BacktestReport(
        rule=rule,
        proposed={
            name: getattr(proposed, name)
            for name in Thresholds.names()
            if getattr(proposed, name) != getattr(current, name)
        },
        since=now - lookback,
        licenses_evaluated=evaluated,
        flagged=len(flagged),
        flagged_now=len(flagged_now),
        newly_flagged=len(set(flagged) - flagged_now),
        no_longer_flagged=len(flagged_now - set(flagged)),
        cases=_cases_by_status(session, rule, list(flagged), chunk_size),
        quiet_by_exception=sum(
            rule in rules_held
            for rules_held in active_exceptions(session, list(flagged), now).values()
        ),
        examples=_examples(session, flagged, flagged_now),
    )


def _cases_by_status(
    session: Session, rule: Rule, license_ids: list[uuid.UUID], chunk_size: int
) -> dict[str, int]:
    counts: Counter[str] = Counter({"open": 0, "confirmed": 0, "dismissed": 0})
    for start in range(0, len(license_ids), chunk_size):
        rows = session.execute(
            select(MisuseCase.status, func.count())
            .where(
                MisuseCase.rule == rule.value,
                MisuseCase.license_id.in_(license_ids[start : start + chunk_size]),
            )
            .group_by(MisuseCase.status)
        )
        for status, count in rows:
            counts[status] += count
    return dict(counts)


def _examples(
    session: Session, flagged: Mapping[uuid.UUID, Finding], flagged_now: set[uuid.UUID]
) -> list[dict[str, Any]]:
    """Up to ten flagged licenses, those the proposal adds first: the change to look at."""
    chosen = sorted(flagged, key=lambda license_id: (license_id in flagged_now, license_id))
    chosen = chosen[:EXAMPLES]
    hints = {
        license_id: hint
        for license_id, hint in session.execute(
            select(License.id, License.key_hint).where(License.id.in_(chosen))
        )
    }
    return [
        {
            "license_id": str(license_id),
            "key_hint": hints.get(license_id),
            "flagged_now": license_id in flagged_now,
            "summary": flagged[license_id].summary,
        }
        for license_id in chosen
    ]
