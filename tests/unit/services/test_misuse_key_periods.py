"""The misuse rules on rows the check-in path hashed under two months' keys, raw and
after the retention job pseudonymised them: they decide the same."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.misuse.findings import Rule
from licensing.misuse.rules import evaluate
from licensing.misuse.thresholds import Thresholds
from licensing.models import Activation, License, UsageObservation
from licensing.privacy.categories import RetentionPeriods
from licensing.services import retention
from licensing.services.check_ins import record_check_in
from licensing.services.instance_reports import CheckIn
from licensing.services.misuse_history import HistorySource
from tests.factories import make_license

DAY = timedelta(days=1)
BOUNDARY = datetime(2031, 7, 1, tzinfo=UTC)  # the first of a key month
THRESHOLDS = Thresholds()


def _check_ins(session: Session, sealer: Sealer, license: License, plan: dict[int, int]) -> None:
    """One seat checking in from ``servers`` distinct names on each day ``day`` (days
    counted from the month boundary: -1 is the last day of June)."""
    activation = Activation(
        license_id=license.id,
        fingerprint=uuid.uuid4().hex,
        server_name="host-0.example.net",
        product_version="2.0.0",
        activated_at=BOUNDARY - 40 * DAY,
        last_check_in_at=BOUNDARY - 40 * DAY,
    )
    session.add(activation)
    session.flush()
    for day, servers in plan.items():
        for n in range(servers):
            report = CheckIn(
                activation_id=activation.id,
                fingerprint=None,
                server_name=f"host-{n}.example.net",
                product_version="2.0.0",
                usage={},
                ip="203.0.113.5",
            )
            at = BOUNDARY + day * DAY + timedelta(hours=9, minutes=n)
            record_check_in(
                session,
                sealer,
                license_id=license.id,
                processing_restricted=False,
                report=report,
                now=at,
            )
    session.flush()


def _rules(session: Session, license: License, now: datetime) -> set[Rule]:
    source = HistorySource(session, now=now, lookback=THRESHOLDS.lookback)
    (found,) = source.histories([license.id])
    return {finding.rule for finding in evaluate(found, THRESHOLDS, now)}


def _pseudonymise(session: Session, now: datetime) -> None:
    """The retention job, with a raw period short enough to reach these rows."""
    periods = RetentionPeriods(raw_usage_days=1)
    report = retention.enforce(session, periods=periods, as_of=now, dry_run=False)
    assert report.counts[retention.Step.USAGE_PSEUDONYMISED] > 0


def test_a_steady_pair_of_servers_across_the_boundary_does_not_spread(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    _check_ins(session, sealer, license, {day: 2 for day in range(-5, 5)})
    now = BOUNDARY + 6 * DAY
    hashes = session.scalars(
        select(UsageObservation.server_name_hash)
        .where(UsageObservation.license_id == license.id)
        .distinct()
    ).all()
    assert len(hashes) == 4  # two names, hashed under two months' keys

    assert Rule.SERVER_SPREAD not in _rules(session, license, now)
    _pseudonymise(session, now)
    assert Rule.SERVER_SPREAD not in _rules(session, license, now)


def test_server_spread_fires_on_one_months_servers_raw_and_pseudonymised(
    session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    _check_ins(session, sealer, license, {-2: 2, -1: 2, 0: 4, 1: 4})
    now = BOUNDARY + 3 * DAY

    assert Rule.SERVER_SPREAD in _rules(session, license, now)
    _pseudonymise(session, now)
    rows = session.scalars(
        select(UsageObservation).where(UsageObservation.license_id == license.id)
    )
    assert all(row.server_name is None and row.server_name_hash for row in rows)
    assert Rule.SERVER_SPREAD in _rules(session, license, now)
