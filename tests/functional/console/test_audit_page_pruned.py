"""The console's verification starts at the prune anchor and says what retention pruned."""

from __future__ import annotations

from datetime import timedelta

from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import AuditPruneAnchor
from licensing.privacy.categories import RetentionPeriods
from licensing.services import retention, server_keys
from licensing.services.retention import Step
from licensing.timeutil import utcnow
from tests.functional.console.conftest import MakeStaff, sign_in


def _prune_all_but_the_newest(session: Session, sealer: Sealer) -> int:
    server_keys.ensure_active_key(session, sealer, actor="test:pytest")
    session.commit()
    report = retention.enforce(
        session,
        periods=RetentionPeriods(),
        as_of=utcnow() + timedelta(days=800),
        dry_run=False,
        sealer=sealer,
    )
    return report.counts[Step.AUDIT_EVENTS_PRUNED]


def test_the_page_verifies_from_the_anchor_and_names_what_was_pruned(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    make_staff()
    sign_in(client, "viewer@example.org")
    pruned = _prune_all_but_the_newest(session, sealer)
    assert pruned > 0

    text = client.get("/staff/audit?verify=1").get_data(as_text=True)

    assert "Intact:" in text
    assert f"Events 1 to {pruned} were pruned by retention on {utcnow().date()}" in text


def test_an_altered_anchor_shows_a_broken_chain(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    make_staff()
    sign_in(client, "viewer@example.org")
    _prune_all_but_the_newest(session, sealer)
    session.execute(update(AuditPruneAnchor).values(hash="0" * 64))
    session.commit()
    session.expire_all()

    text = client.get("/staff/audit?verify=1").get_data(as_text=True)

    assert "Intact" not in text
    assert "prune anchor" in text and "altered or not signed by this server" in text
