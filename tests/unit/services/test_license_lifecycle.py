"""License state changes: suspend, reinstate, revoke, renew protection, extend the term."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from functools import partial

import pytest
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.errors import InvalidRequest, InvalidTransition
from licensing.models import License
from licensing.services import licenses
from tests.factories import latest_event, make_edition, make_license

ISSUED = datetime(2024, 3, 15, tzinfo=UTC)
PROTECTED_UNTIL = datetime(2025, 3, 15, tzinfo=UTC)

# A revocation with four eyes off: one admin may revoke alone.
revoke_alone = partial(licenses.revoke, four_eyes=False)


@pytest.fixture
def license(session: Session, sealer: Sealer) -> License:
    return make_license(session, sealer, now=ISSUED).license


@pytest.fixture
def term_license(session: Session, sealer: Sealer) -> License:
    edition = make_edition(session, term_days=30)
    return make_license(session, sealer, edition=edition, now=ISSUED).license


def test_suspend_reinstate_revoke(session: Session, license: License, actor: str) -> None:
    steps = [
        (licenses.suspend, "suspended", "license.suspended"),
        (licenses.reinstate, "active", "license.reinstated"),
        (revoke_alone, "revoked", "license.revoked"),
    ]
    previous = "active"
    for change, status, action in steps:
        change(session, license, reason=f"because {action}", actor=actor)
        assert license.status == status
        assert license.status_reason == f"because {action}"
        event = latest_event(session)
        assert (event.action, event.actor, event.subject_id) == (action, actor, str(license.id))
        assert event.data == {"from": previous, "to": status, "reason": f"because {action}"}
        previous = status


def test_a_suspended_license_can_be_revoked(session: Session, license: License, actor: str) -> None:
    licenses.suspend(session, license, reason="", actor=actor)
    assert license.status_reason is None
    licenses.revoke(session, license, reason="fraud", actor=actor, four_eyes=False)
    assert license.status == "revoked"


@pytest.mark.parametrize(
    ("setup", "change"),
    [
        ([], licenses.reinstate),
        ([licenses.suspend], licenses.suspend),
        ([revoke_alone], revoke_alone),
        ([revoke_alone], licenses.suspend),
        ([revoke_alone], licenses.reinstate),
    ],
)
def test_invalid_transitions_are_refused(
    session: Session,
    license: License,
    actor: str,
    setup: list[Callable[..., License]],
    change: Callable[..., License],
) -> None:
    for step in setup:
        step(session, license, reason="setup", actor=actor)
    status, before = license.status, latest_event(session).seq
    with pytest.raises(InvalidTransition, match=f"that is {status}"):
        change(session, license, reason="again", actor=actor)
    assert license.status == status
    assert latest_event(session).seq == before  # nothing audited


def test_renewing_early_adds_to_the_current_end(
    session: Session, license: License, actor: str
) -> None:
    licenses.renew_upgrade_protection(
        session, license, actor=actor, now=datetime(2025, 1, 10, tzinfo=UTC)
    )
    assert license.upgrade_protection_until == datetime(2026, 3, 15, tzinfo=UTC)
    event = latest_event(session)
    assert event.action == "license.protection_renewed"
    assert event.data == {"from": PROTECTED_UNTIL.isoformat(), "to": "2026-03-15T00:00:00+00:00"}


def test_renewing_late_starts_from_now(session: Session, license: License, actor: str) -> None:
    late = datetime(2025, 6, 1, 8, 0, tzinfo=UTC)
    licenses.renew_upgrade_protection(session, license, actor=actor, months=6, now=late)
    assert license.upgrade_protection_until == datetime(2025, 12, 1, 8, 0, tzinfo=UTC)


def test_renewing_to_a_date(session: Session, license: License, actor: str) -> None:
    until = datetime(2027, 1, 1, tzinfo=UTC)
    licenses.renew_upgrade_protection(session, license, actor=actor, until=until)
    assert license.upgrade_protection_until == until
    with pytest.raises(InvalidRequest, match="after the current one"):
        licenses.renew_upgrade_protection(session, license, actor=actor, until=until)
    with pytest.raises(InvalidRequest, match="at least one month"):
        licenses.renew_upgrade_protection(session, license, actor=actor, months=0)


def test_a_revoked_license_is_not_renewed_or_extended(
    session: Session, term_license: License, actor: str
) -> None:
    licenses.revoke(session, term_license, reason="fraud", actor=actor, four_eyes=False)
    with pytest.raises(InvalidTransition):
        licenses.renew_upgrade_protection(session, term_license, actor=actor)
    with pytest.raises(InvalidTransition):
        licenses.extend_term(session, term_license, actor=actor, days=30)


def test_extending_a_term_adds_to_its_end_or_to_now_once_expired(
    session: Session, term_license: License, actor: str
) -> None:
    end = ISSUED + timedelta(days=30)
    licenses.extend_term(session, term_license, actor=actor, days=10, now=ISSUED)
    assert term_license.expires_at == end + timedelta(days=10)
    event = latest_event(session)
    assert event.action == "license.term_extended"
    assert event.data["from"] == end.isoformat()

    much_later = end + timedelta(days=100)
    licenses.extend_term(session, term_license, actor=actor, days=10, now=much_later)
    assert term_license.expires_at == much_later + timedelta(days=10)


def test_extending_a_term_to_a_date(session: Session, term_license: License, actor: str) -> None:
    until = datetime(2030, 1, 1, tzinfo=UTC)
    licenses.extend_term(session, term_license, actor=actor, until=until)
    assert term_license.expires_at == until
    with pytest.raises(InvalidRequest, match="future"):
        licenses.extend_term(session, term_license, actor=actor, until=ISSUED)
    with pytest.raises(InvalidRequest, match="number of days"):
        licenses.extend_term(session, term_license, actor=actor, days=0)


def test_a_perpetual_license_has_no_term_to_extend(
    session: Session, license: License, actor: str
) -> None:
    with pytest.raises(InvalidTransition, match="perpetual"):
        licenses.extend_term(session, license, actor=actor, days=30)


def test_four_eyes_refuse_a_revocation_without_an_approved_request(
    session: Session, license: License, actor: str
) -> None:
    before = latest_event(session).seq
    with pytest.raises(InvalidTransition, match="second admin's approval"):
        licenses.revoke(session, license, reason="fraud", actor=actor, four_eyes=True)
    with pytest.raises(InvalidTransition, match="second admin's approval"):
        licenses.revoke(
            session, license, reason="fraud", actor=actor, four_eyes=True, requested_by="staff:x"
        )
    assert license.status == "active"
    assert latest_event(session).seq == before  # nothing audited


def test_four_eyes_let_an_approved_request_revoke(
    session: Session, license: License, actor: str
) -> None:
    licenses.revoke(
        session,
        license,
        reason="fraud",
        actor=actor,
        four_eyes=True,
        requested_by="staff:asker",
        request_id="request-1",
    )
    assert license.status == "revoked"
    event = latest_event(session)
    assert event.data["requested_by"] == "staff:asker"
    assert event.data["request_id"] == "request-1"
