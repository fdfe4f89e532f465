"""Periodic jobs: activations silent past their dead-after period are culled."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy.orm import Session

from licensing import jobs
from licensing.crypto.sealing import Sealer
from licensing.runtime import EXTENSION_KEY
from tests.factories import make_activation, make_edition, make_license

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


@pytest.fixture
def context(app: Flask) -> jobs.JobContext:
    runtime = app.extensions[EXTENSION_KEY]
    return jobs.JobContext(settings=runtime.settings, sealer=runtime.sealer)


def test_cull_releases_only_activations_silent_past_dead_after(
    session: Session, sealer: Sealer, context: jobs.JobContext
) -> None:
    # 1 h interval x 3 intervals: silent for more than 3 h is dead.
    edition = make_edition(session, check_in_interval_seconds=3600, dead_after_intervals=3)
    issued = make_license(session, sealer, edition=edition)
    dead = make_activation(
        session, issued.license.id, silent_for=timedelta(hours=3, seconds=1), now=NOW
    )
    alive = make_activation(
        session, issued.license.id, silent_for=timedelta(hours=2, minutes=59), now=NOW
    )

    results = jobs.run(session, now=NOW, context=context, only="cull-activations")

    assert [(r.job, r.affected) for r in results] == [("cull-activations", 1)]
    session.expire_all()
    assert (dead.status, dead.release_reason, dead.released_at) == ("released", "culled", NOW)
    assert (alive.status, alive.release_reason) == ("active", None)
