"""The misuse scan: licenses to look at → chunks → histories → the rules → cases.

Incremental: a scan looks only at licenses with news since the last one finished
(``misuse_news.changed_licenses``), plus a full pass over every license when the last full
pass is older than the configured period (new rules or thresholds, evidence ageing out of
the lookback). Idempotent: the cases take the same findings twice without a change.

The face drives the commits: ``run`` calls ``progress.chunk_done`` after each chunk, and
the face commits there (services never commit), so a crash loses one chunk at most. On
SQLite the plan and the histories are read on a session of their own that holds no write
lock (``database.reading_session``); ``session`` takes the lock only to apply one chunk's
findings, and the face's commit releases it, so check-ins get in between chunks. The
watermark moves to the scan's start only after the last chunk, in ``finish``: writes made
while the scan ran are then seen by the next one.
"""

from __future__ import annotations

import time
import uuid
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, Protocol

from sqlalchemy import Engine, select
from sqlalchemy.orm import Session

from licensing.database import reading_session
from licensing.misuse import rules
from licensing.misuse.findings import Rule
from licensing.misuse.thresholds import Thresholds
from licensing.models import License
from licensing.models.misuse import (
    MisuseScanState,
)
from licensing.services import misuse_news
from licensing.services.misuse_cases import CaseChanges, apply_findings
from licensing.services.misuse_exceptions import active_exceptions
from licensing.services.misuse_history import HistorySource
from licensing.storage import advisory_lock

SCAN_NAME = "misuse"
CHUNK_SIZE = 1000
# Overlap with the previous scan: a check-in stamped just before that scan started may
# have committed just after it chose its licenses. Looking twice costs nothing (idempotent).
IN_FLIGHT = timedelta(minutes=1)


@dataclass(frozen=True, slots=True)
class ScanPlan:
    """What one scan looks at: every license (a full pass) or those with news since."""

    started_at: datetime
    full: bool
    since: datetime | None
    license_ids: Sequence[uuid.UUID]

    def chunks(self, size: int = CHUNK_SIZE) -> Iterator[Sequence[uuid.UUID]]:
        for start in range(0, len(self.license_ids), size):
            yield self.license_ids[start : start + size]


@dataclass(frozen=True, slots=True)
class ChunkOutcome:
    licenses: int
    findings: Counter[Rule]
    cases: CaseChanges


@dataclass(slots=True)
class ScanSummary:
    """What a scan did, as the CLI and the job report it."""

    full: bool
    since: datetime | None
    licenses: int = 0
    findings: Counter[Rule] = field(default_factory=Counter)
    cases: CaseChanges = field(default_factory=CaseChanges)
    seconds: float = 0.0

    def add(self, outcome: ChunkOutcome) -> None:
        self.licenses += outcome.licenses
        self.findings += outcome.findings
        self.cases += outcome.cases

    def to_json(self) -> dict[str, Any]:
        return {
            "full": self.full,
            "since": self.since,
            "licenses_scanned": self.licenses,
            "findings": {rule.value: self.findings.get(rule, 0) for rule in Rule},
            "cases_opened": self.cases.opened,
            "cases_updated": self.cases.updated,
            "cases_reopened": self.cases.reopened,
            "quiet_by_exception": self.cases.quiet,
            "seconds": round(self.seconds, 2),
        }


class ScanProgress(Protocol):
    """What the face does around the chunks: show progress, commit each chunk."""

    def started(self, plan: ScanPlan) -> None: ...

    def chunk_done(self, outcome: ChunkOutcome) -> None: ...


def run(
    session: Session,
    engine: Engine,
    *,
    now: datetime,
    thresholds: Thresholds,
    full_scan_every: timedelta,
    progress: ScanProgress,
    full: bool = False,
    wait: bool = False,
    chunk_size: int = CHUNK_SIZE,
) -> ScanSummary | None:
    """One scan, or ``None`` when another scan holds the lock and ``wait`` is not set."""
    with advisory_lock.held(engine, "misuse-scan", wait=wait) as mine:
        if not mine:
            return None
        clock = time.monotonic()
        with reading_session(session) as reader:
            scan = plan(
                reader,
                now=now,
                full=full,
                full_scan_every=full_scan_every,
                lookback=thresholds.lookback,
            )
            _end_reads(reader, session)
            summary = ScanSummary(full=scan.full, since=scan.since)
            progress.started(scan)
            source = HistorySource(reader, now=now, lookback=thresholds.lookback)
            for chunk in scan.chunks(chunk_size):
                outcome = scan_chunk(
                    session, source, chunk, thresholds=thresholds, now=now, consecutive=scan.full
                )
                summary.add(outcome)
                progress.chunk_done(outcome)
        finish(session, scan)
        summary.seconds = time.monotonic() - clock
        return summary


def plan(
    session: Session,
    *,
    now: datetime,
    full: bool,
    full_scan_every: timedelta,
    lookback: timedelta,
) -> ScanPlan:
    """A full pass when asked, on the first scan, or when the last one is too old."""
    state = session.get(MisuseScanState, SCAN_NAME)
    if (
        full
        or state is None
        or state.full_scan_at is None
        or now - state.full_scan_at >= full_scan_every
    ):
        ids = list(
            session.scalars(
                select(License.id)
                .where(License.processing_restricted.is_(False))
                .order_by(License.id)
            )
        )
        return ScanPlan(started_at=now, full=True, since=None, license_ids=ids)
    since = state.scanned_until - IN_FLIGHT
    changed = misuse_news.changed_licenses(session, since=since, now=now, lookback=lookback)
    ids = sorted(changed - _restricted(session, changed))
    return ScanPlan(started_at=now, full=False, since=since, license_ids=ids)


def _restricted(session: Session, ids: set[uuid.UUID]) -> set[uuid.UUID]:
    """Those of ``ids`` whose processing is restricted: the customer restricted it or
    objected to processing on legitimate interests (GDPR Art. 18, 21), which the misuse
    scan is, so it leaves them out (services/processing_restriction.py)."""
    if not ids:
        return set()
    restricted = select(License.id).where(License.processing_restricted.is_(True))
    return set(session.scalars(restricted)) & ids


def scan_chunk(
    session: Session,
    source: HistorySource,
    license_ids: Sequence[uuid.UUID],
    *,
    thresholds: Thresholds,
    now: datetime,
    consecutive: bool = False,
) -> ChunkOutcome:
    """Every rule over each license of the chunk, and the cases they make.

    The cases own what an exception means (``apply_findings`` holds the rule quiet and
    notes it on the case), so every finding is handed over, with the rules under an
    active exception looked up once for the chunk; a license without findings has
    nothing to apply.
    """
    evaluated = tuple(rules.RULES)
    findings: Counter[Rule] = Counter()
    cases = CaseChanges()
    histories = source.histories(license_ids, consecutive=consecutive)
    _end_reads(source.session, session)
    fired = {
        uuid.UUID(history.license_id): found
        for history in histories
        if (found := rules.evaluate(history, thresholds, now, rules=evaluated))
    }
    held = active_exceptions(session, list(fired), now) if fired else {}
    for license_id, found in fired.items():
        findings.update(finding.rule for finding in found)
        cases += apply_findings(
            session,
            license_id=license_id,
            rules=evaluated,
            findings=found,
            now=now,
            excepted=held.get(license_id, frozenset()),
        )
    return ChunkOutcome(licenses=len(histories), findings=findings, cases=cases)


def _end_reads(reader: Session, session: Session) -> None:
    """End the read transaction of a session of its own (SQLite) before ``session``
    writes: the next chunk then reads what was committed meanwhile, and the WAL can be
    checkpointed past it."""
    if reader is not session:
        reader.rollback()


def finish(session: Session, scan: ScanPlan) -> None:
    """Move the watermark to the scan's start (and the full pass's time, if it was one)."""
    state = session.get(MisuseScanState, SCAN_NAME)
    if state is None:
        state = MisuseScanState(name=SCAN_NAME, scanned_until=scan.started_at)
        session.add(state)
    state.scanned_until = scan.started_at
    if scan.full:
        state.full_scan_at = scan.started_at
    session.flush()
