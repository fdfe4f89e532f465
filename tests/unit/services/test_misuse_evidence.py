"""Misuse evidence older than twice the lookback is pruned by a job, in batches."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing import jobs
from licensing.crypto.sealing import Sealer
from licensing.models import HoldScope, LegalHold, License
from licensing.models.misuse import LeasePresentation, SignatureFailure
from licensing.runtime import EXTENSION_KEY
from licensing.services import legal_holds
from licensing.services.misuse_evidence import prune_stale_evidence
from tests.factories import make_activation, make_license
from tests.unit.services.misuse_rows import lease_presented, signature_failures

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
LOOKBACK = 30 * DAY
CUTOFF = NOW - 2 * LOOKBACK


def _seeded(session: Session, sealer: Sealer) -> License:
    """A license with presentations and tallies on both sides of the cutoff."""
    issued = make_license(session, sealer)
    activation = make_activation(session, issued.license.id, silent_for=DAY, now=NOW)
    for n, at in enumerate((CUTOFF - DAY, CUTOFF - timedelta(seconds=1), CUTOFF, NOW - DAY)):
        lease_presented(session, activation, f"old-{n}", f"new-{n}", at, issued=f"next-{n}")
    for at in (CUTOFF - 2 * DAY, CUTOFF - DAY, CUTOFF, NOW - DAY):
        signature_failures(session, issued.license.key_id, at, 3)
    return issued.license


@pytest.fixture
def evidence(session: Session, sealer: Sealer) -> str:
    """Presentations and tallies on both sides of the cutoff; returns the key id."""
    return _seeded(session, sealer).key_id


def _rows_of(session: Session, license: License) -> tuple[int, int]:
    """How many presentations and signature-failure tallies of ``license`` are left."""
    session.expire_all()
    presentations = session.scalar(
        select(func.count()).where(LeasePresentation.license_id == license.id)
    )
    failures = session.scalar(select(func.count()).where(SignatureFailure.key_id == license.key_id))
    return int(presentations or 0), int(failures or 0)


def _hold(session: Session, scope: HoldScope, license: License) -> LegalHold:
    return legal_holds.place(
        session,
        scope=scope,
        license=license if scope is HoldScope.LICENSE else None,
        customer=license.customer if scope is HoldScope.CUSTOMER else None,
        matter="Vendor v. Example Ltd",
        reason="evidence of key sharing for the claim",
        review_on=(NOW + 90 * DAY).date(),
        actor="test:pytest",
        now=NOW,
    )


def kept(session: Session) -> tuple[list[datetime], list[datetime]]:
    session.expire_all()
    presentations = session.scalars(select(LeasePresentation.at).order_by(LeasePresentation.at))
    failures = session.scalars(select(SignatureFailure.bucket_start).order_by("bucket_start"))
    return [_utc(t) for t in presentations], [_utc(t) for t in failures]


def _utc(at: datetime) -> datetime:
    return at if at.tzinfo else at.replace(tzinfo=UTC)


def test_only_evidence_from_before_twice_the_lookback_is_pruned(
    session: Session, evidence: str
) -> None:
    assert prune_stale_evidence(session, now=NOW, lookback=LOOKBACK) == 4

    assert kept(session) == ([CUTOFF, NOW - DAY], [CUTOFF, NOW - DAY])


def test_a_backlog_goes_in_batches_each_checkpointed(session: Session, evidence: str) -> None:
    checkpoints: list[int] = []

    removed = prune_stale_evidence(
        session, now=NOW, lookback=LOOKBACK, batch=1, checkpoint=lambda: checkpoints.append(1)
    )

    assert removed == 4
    assert len(checkpoints) == 6  # 2 + 1 empty batch per table
    assert kept(session) == ([CUTOFF, NOW - DAY], [CUTOFF, NOW - DAY])


def test_a_second_run_finds_nothing(session: Session, evidence: str) -> None:
    prune_stale_evidence(session, now=NOW, lookback=LOOKBACK)

    assert prune_stale_evidence(session, now=NOW, lookback=LOOKBACK) == 0


def test_the_job_prunes_with_the_configured_lookback(
    session: Session, app: Flask, evidence: str
) -> None:
    runtime = app.extensions[EXTENSION_KEY]
    context = jobs.JobContext(settings=runtime.settings, sealer=runtime.sealer)
    assert runtime.settings.misuse_thresholds.lookback == LOOKBACK  # the default

    results = jobs.run(session, now=NOW, context=context, only="prune-misuse-evidence")

    assert [(r.job, r.affected) for r in results] == [("prune-misuse-evidence", 4)]
    assert kept(session) == ([CUTOFF, NOW - DAY], [CUTOFF, NOW - DAY])


@pytest.mark.parametrize("scope", [HoldScope.LICENSE, HoldScope.CUSTOMER])
def test_a_held_licenses_evidence_is_kept_however_old(
    session: Session, sealer: Sealer, scope: HoldScope
) -> None:
    held, unheld = _seeded(session, sealer), _seeded(session, sealer)
    _hold(session, scope, held)

    assert prune_stale_evidence(session, now=NOW, lookback=LOOKBACK, batch=1) == 4

    assert _rows_of(session, held) == (4, 4)
    assert _rows_of(session, unheld) == (2, 2)


def test_once_the_hold_is_released_its_evidence_is_pruned(session: Session, sealer: Sealer) -> None:
    held = _seeded(session, sealer)
    hold = _hold(session, HoldScope.LICENSE, held)
    assert prune_stale_evidence(session, now=NOW, lookback=LOOKBACK) == 0
    legal_holds.release(
        session, hold, reason="the claim was settled", actor="test:pytest", now=NOW, four_eyes=False
    )

    assert prune_stale_evidence(session, now=NOW, lookback=LOOKBACK) == 4
    assert _rows_of(session, held) == (2, 2)
