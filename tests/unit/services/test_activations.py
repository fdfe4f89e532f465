"""Activations: dead ones are released once, however often the cull runs."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Activation
from licensing.services import activations
from tests.factories import make_edition, make_license

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def _activation(session: Session, license_id: uuid.UUID, *, silent_for: timedelta) -> Activation:
    activation = Activation(
        license_id=license_id,
        fingerprint=uuid.uuid4().hex,
        server_name="mail.example.com",
        product_version="1.0.0",
        status="active",
        activated_at=NOW - timedelta(days=30),
        last_check_in_at=NOW - silent_for,
    )
    session.add(activation)
    session.flush()
    return activation


def test_cull_is_idempotent(session: Session, sealer: Sealer) -> None:
    edition = make_edition(session, check_in_interval_seconds=3600, dead_after_intervals=1)
    issued = make_license(session, sealer, edition=edition)
    _activation(session, issued.license.id, silent_for=timedelta(days=2))

    first = activations.cull_dead_activations(session, now=NOW)
    second = activations.cull_dead_activations(session, now=NOW + timedelta(minutes=1))

    assert (first, second) == (1, 0)
