"""An erasure from start to end: erase, commit, write the ledger line, scrub the files.

The one place that commits inside a unit of work, as the retention job does per batch:
the ledger must never name an erasure that did not happen, and the files can only be
scrubbed of rows whose deletion is committed (VACUUM runs outside any transaction).
"""

from __future__ import annotations

import dataclasses
from datetime import datetime
from pathlib import Path

from sqlalchemy import Engine
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import LicensingError
from licensing.models import PrivacyRequest
from licensing.services import erasure, erasure_ledger
from licensing.services.erasure import ErasureReport
from licensing.services.erasure_ledger import ReplayReport
from licensing.storage import erasure_scrub
from licensing.storage.erasure_scrub import ScrubResult


class LedgerNotWritten(LicensingError):
    status = 500
    code = "ERASURE_LEDGER_NOT_WRITTEN"
    title = "Erased, but not written to the erasure ledger"


def carry_out(
    session: Session,
    request: PrivacyRequest,
    *,
    sealer: Sealer,
    ledger: Path,
    scrub_engine: Engine | None,
    actor: str,
    now: datetime,
) -> ErasureReport:
    """Erase for ``request``; scrub with ``scrub_engine`` (None: leave it to
    ``licensing privacy scrub``, e.g. for a maintenance window)."""
    report = erasure.erase(session, request, actor=actor, now=now)
    session.commit()
    # From the report, not the request: reading an expired object would begin a new
    # transaction, whose lock (SQLite) the scrub would then wait for.
    try:
        erasure_ledger.append(
            ledger,
            sealer,
            customer_id=report.plan.customer_id,
            request_id=report.request_id,
            erased_at=now,
        )
    except OSError as exc:
        # The erasure stands; what is missing is the line that would re-apply it after
        # a restore, so the operator is told exactly which erasure lacks one.
        raise LedgerNotWritten(
            f"customer {report.plan.customer_id} is erased (request {report.request_id}), "
            f"but the erasure ledger {ledger} could not be written ({exc.strerror}): "
            "fix it before the next backup is restored"
        ) from exc
    # The ledger's MAC key may have been read through the session (the first fixed keyed
    # hash of this process): end that transaction, or on SQLite its lock would hold off
    # the scrub's VACUUM.
    session.commit()
    return scrubbed(report, scrub_engine)


def scrubbed(report: ErasureReport, engine: Engine | None) -> ErasureReport:
    """``report`` with the scrub of the tables it changed done (if ``engine``) and stated."""
    if engine is None or not report.plan.touched_tables:
        return report
    result = erasure_scrub.scrub(engine, report.plan.touched_tables)
    return dataclasses.replace(
        report, scrubbed=result.scrubbed, scrub_seconds=result.seconds, scrub_problem=result.problem
    )


def replay(
    session: Session,
    *,
    sealer: Sealer,
    ledger: Path,
    dry_run: bool,
    scrub_engine: Engine | None,
    actor: str,
    now: datetime,
) -> tuple[ReplayReport, ScrubResult | None]:
    """Re-apply the ledger after a restore, commit, then scrub what it changed."""
    report = erasure_ledger.replay(session, sealer, ledger, dry_run=dry_run, actor=actor, now=now)
    if dry_run:  # nothing changed: the face's commit only ends the transaction
        return report, None
    session.commit()
    if scrub_engine is None or not report.touched_tables:
        return report, None
    return report, erasure_scrub.scrub(scrub_engine, report.touched_tables)
