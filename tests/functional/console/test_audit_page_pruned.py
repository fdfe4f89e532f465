"""The console's verification starts at the prune anchor and says what retention pruned."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import AuditPruneAnchor
from licensing.privacy.categories import RetentionPeriods
from licensing.services import retention, server_keys
from licensing.services.retention import Step
from licensing.timeutil import utcnow
from tests.clock import Clock
from tests.functional.console.conftest import MakeStaff, sign_in


@pytest.fixture
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    return Clock(monkeypatch, utcnow())


def _a_key_then_800_days(session: Session, sealer: Sealer, clock: Clock) -> None:
    """The key's creation is past the audit period 800 days on: the clock moves there."""
    server_keys.ensure_active_key(session, sealer, actor="test:pytest")
    session.commit()
    clock.set(utcnow() + timedelta(days=800))


def _prune(session: Session, sealer: Sealer) -> int:
    report = retention.enforce(
        session, periods=RetentionPeriods(), as_of=utcnow(), dry_run=False, sealer=sealer
    )
    return report.counts[Step.AUDIT_EVENTS_PRUNED]


def test_the_page_verifies_from_the_anchor_and_names_what_was_pruned(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer, clock: Clock
) -> None:
    _a_key_then_800_days(session, sealer, clock)
    make_staff()
    sign_in(client, "viewer@example.org")
    pruned = _prune(session, sealer)
    assert pruned > 0

    text = client.get("/staff/audit?verify=1").get_data(as_text=True)

    assert "Intact:" in text
    assert f"Events 1 to {pruned} were pruned by retention on {utcnow().date()}" in text
    assert "opens under the master key" in text  # the anchor's key was the server's own


def test_an_altered_anchor_shows_a_broken_chain(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer, clock: Clock
) -> None:
    _a_key_then_800_days(session, sealer, clock)
    make_staff()
    sign_in(client, "viewer@example.org")
    assert _prune(session, sealer) > 0
    session.execute(update(AuditPruneAnchor).values(hash="0" * 64))
    session.commit()
    session.expire_all()

    text = client.get("/staff/audit?verify=1").get_data(as_text=True)

    assert "Intact" not in text
    assert "prune anchor" in text and "altered or not signed by this server" in text
