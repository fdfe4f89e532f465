"""``licensing jobs run --only usage-rollup``: the dashboard's usage figures, from cron."""

from __future__ import annotations

import uuid
from datetime import timedelta

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import UsageDay, UsageObservation
from licensing.timeutil import utcnow
from tests.factories import make_activation, make_license
from tests.functional.cli.invoke import Licensing


def test_the_job_computes_the_days_then_keeps_today_fresh(
    licensing: Licensing, session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    seat = make_activation(session, license.id, silent_for=timedelta(minutes=5), now=utcnow())

    def observe(count: int) -> None:
        session.add(
            UsageObservation(
                activation_id=seat.id,
                license_id=license.id,
                day=utcnow().date(),
                observation_key=uuid.uuid4().bytes * 2,
                product_version="1.0.0",
                count=count,
            )
        )
        session.commit()

    observe(3)
    assert licensing.json("jobs", "run", "--only", "usage-rollup") == [
        {"job": "usage-rollup", "affected": 90}
    ]
    observe(4)
    assert licensing.json("jobs", "run", "--only", "usage-rollup") == [
        {"job": "usage-rollup", "affected": 2}  # yesterday and today
    ]

    session.expire_all()
    today = session.get_one(UsageDay, utcnow().date())
    assert (today.check_ins, today.active_instances) == (3 + 4, 1)
    assert len(session.scalars(select(UsageDay)).all()) == 90


def test_the_job_is_one_of_the_periodic_jobs(licensing: Licensing) -> None:
    assert "usage-rollup" in licensing.ok("jobs", "run", "--help")
    listed = [row["job"] for row in licensing.json("jobs", "run")]
    assert listed.index("usage-rollup") < listed.index("misuse-scan")
