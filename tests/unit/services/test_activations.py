"""Activations: dead ones are released once, however often the cull runs."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.services import activations
from tests.factories import make_activation, make_edition, make_license

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_cull_is_idempotent(session: Session, sealer: Sealer) -> None:
    edition = make_edition(session, check_in_interval_seconds=3600, dead_after_intervals=1)
    issued = make_license(session, sealer, edition=edition)
    make_activation(session, issued.license.id, silent_for=timedelta(days=2), now=NOW)

    first = activations.cull_dead_activations(session, now=NOW)
    second = activations.cull_dead_activations(session, now=NOW + timedelta(minutes=1))

    assert (first, second) == (1, 0)
