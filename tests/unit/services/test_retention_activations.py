"""A released seat, and its fingerprint, goes once its usage period has passed and no
usage refers to it; a live seat, a recent release and a held license's seats stay."""

from __future__ import annotations

import os
from datetime import UTC, datetime, timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation, HoldScope, UsageObservation
from licensing.privacy.categories import RetentionPeriods
from licensing.services import legal_holds, retention
from licensing.services.retention import Step
from tests.factories import make_activation, make_license

AS_OF = datetime(2026, 6, 1, tzinfo=UTC)
LONG_AGO = AS_OF - timedelta(days=400)  # more than 13 months before


def _released(session: Session, license_id: object, at: datetime) -> Activation:
    activation = make_activation(session, license_id, silent_for=timedelta(days=500), now=AS_OF)  # type: ignore[arg-type]
    activation.status, activation.released_at, activation.release_reason = (
        "released",
        at,
        "culled",
    )
    session.flush()
    return activation


def _enforce(session: Session, *, dry_run: bool = False) -> retention.RetentionReport:
    return retention.enforce(session, periods=RetentionPeriods(), as_of=AS_OF, dry_run=dry_run)


def _left(session: Session, *ids: object) -> set[object]:
    return set(session.scalars(select(Activation.id).where(Activation.id.in_(ids))))


def test_old_released_seats_go_and_the_others_stay(session: Session, sealer: Sealer) -> None:
    license_id = make_license(session, sealer).license.id
    old = _released(session, license_id, LONG_AGO)
    recent = _released(session, license_id, AS_OF - timedelta(days=60))
    live = make_activation(session, license_id, silent_for=timedelta(days=1), now=AS_OF)
    # Released long ago, but a usage row of its last month is still inside the period.
    referred = _released(session, license_id, LONG_AGO)
    session.add(
        UsageObservation(
            activation_id=referred.id,
            license_id=license_id,
            day=(AS_OF - timedelta(days=30)).date(),
            observation_key=os.urandom(32),
            product_version="1.0.0",
        )
    )
    session.commit()
    ids = (old.id, recent.id, live.id, referred.id)

    assert _enforce(session, dry_run=True).counts[Step.ACTIVATIONS_DELETED] == 1
    report = _enforce(session)

    assert report.counts[Step.ACTIVATIONS_DELETED] == 1
    assert _left(session, *ids) == set(ids[1:])
    assert _enforce(session).counts[Step.ACTIVATIONS_DELETED] == 0


def test_a_held_license_keeps_its_released_seats(session: Session, sealer: Sealer) -> None:
    license = make_license(session, sealer).license
    old = _released(session, license.id, LONG_AGO)
    legal_holds.place(
        session,
        scope=HoldScope.LICENSE,
        license=license,
        matter="A legal matter",
        reason="kept for a legal claim",
        review_on=(AS_OF + timedelta(days=30)).date(),
        actor="test:pytest",
        now=AS_OF,
    )
    session.commit()
    old_id = old.id

    report = _enforce(session)

    assert report.counts[Step.ACTIVATIONS_DELETED] == 0
    assert report.kept_by_hold[Step.ACTIVATIONS_DELETED] == 1
    assert _left(session, old_id) == {old_id}


def test_the_dry_run_counts_a_seat_whose_old_usage_the_same_run_deletes(
    session: Session, sealer: Sealer
) -> None:
    license_id = make_license(session, sealer).license.id
    seat = _released(session, license_id, LONG_AGO)
    session.add(
        UsageObservation(
            activation_id=seat.id,
            license_id=license_id,
            day=(LONG_AGO - timedelta(days=1)).date(),  # before the release: due too
            observation_key=os.urandom(32),
            product_version="1.0.0",
        )
    )
    session.commit()

    dry = _enforce(session, dry_run=True).counts
    real = _enforce(session).counts

    assert (dry[Step.USAGE_DELETED], dry[Step.ACTIVATIONS_DELETED]) == (1, 1)
    assert (real[Step.USAGE_DELETED], real[Step.ACTIVATIONS_DELETED]) == (1, 1)
