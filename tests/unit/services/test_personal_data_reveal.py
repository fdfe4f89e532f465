"""Purpose-bound reveal: who may see a license's raw addresses and server names, for what,
and what the audit log keeps of it (the purpose and the counts, never the values)."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import timedelta

import pytest
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer, hash_period
from licensing.errors import Forbidden, InvalidRequest, NotFound
from licensing.models import AuditEvent, License, StaffRole, StaffUser
from licensing.models.misuse import CaseStatus, EscalationStep, MisuseCase
from licensing.privacy.masking import server_label
from licensing.privacy.pseudonymise import server_name_hash
from licensing.services import misuse_case_actions as actions
from licensing.services import staff as accounts
from licensing.services.personal_data_reveal import (
    Revealed,
    is_reveal_purpose,
    reveal_usage,
    why_not_revealable,
)
from licensing.timeutil import utcnow
from tests.factories import make_license
from tests.functional.cli.misuse_helpers import open_case
from tests.usage_rows import make_seat, observe

NOW = utcnow().replace(microsecond=0)
DAY = timedelta(days=1)
REASON = "four servers on one seat: which hosts are they?"
SERVER, SERVER_2 = "mail-7.example.net", "mail-8.example.net"
IP, IP_2 = "203.0.113.9", "203.0.113.77"
OLD_SERVER, OLD_IP = "old-box.example.org", "198.51.100.23"  # pseudonymised: hashes only
OTHER_SERVER, OTHER_IP = "neighbour.example.com", "192.0.2.44"  # another license's


@dataclasses.dataclass
class Usage:
    license: License
    other: License


@pytest.fixture
def usage(session: Session, sealer: Sealer) -> Usage:
    license = make_license(session, sealer).license
    seat = make_seat(session, license.id, SERVER)
    observe(session, sealer, seat, ip=IP, server=SERVER, at=NOW - 2 * DAY)
    observe(session, sealer, seat, ip=IP, server=SERVER, at=NOW - DAY)
    observe(session, sealer, seat, ip=IP_2, server=SERVER_2, at=NOW - DAY)
    observe(
        session, sealer, seat, ip=OLD_IP, server=OLD_SERVER, at=NOW - 30 * DAY, pseudonymised=True
    )
    other = make_license(session, sealer).license
    neighbour = make_seat(session, other.id, OTHER_SERVER)
    observe(session, sealer, neighbour, ip=OTHER_IP, server=OTHER_SERVER, at=NOW - DAY)
    return Usage(license, other)


def _staff(session: Session, role: str) -> StaffUser:
    return accounts.add_staff(
        session,
        email=f"{role}.{uuid.uuid4().hex[:6]}@example.org",
        display_name=role.title(),
        role=role,
        password="a long enough passphrase",
        actor="test:pytest",
    )


def _reveal(
    session: Session,
    sealer: Sealer,
    license: License,
    staff: StaffUser,
    case: MisuseCase | None,
    reason: str = REASON,
) -> Revealed:
    return reveal_usage(
        session,
        sealer,
        license_id=license.id,
        staff=staff,
        reason=reason,
        case_id=case.id if case is not None else None,
        now=NOW,
    )


def _reveals(session: Session) -> list[AuditEvent]:
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == "personal_data.revealed"))
    )


def test_an_analyst_with_an_open_case_sees_the_raw_values_of_that_license_only(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    case = open_case(session, usage.license)
    analyst = _staff(session, "analyst")

    revealed = _reveal(session, sealer, usage.license, analyst, case)

    assert revealed.license_id == usage.license.id
    assert {a.ip for a in revealed.addresses} == {IP, IP_2}
    assert {a.network for a in revealed.addresses} == {"203.0.113.0/24"}
    twice = next(a for a in revealed.addresses if a.ip == IP)
    assert (twice.first_seen, twice.last_seen) == (NOW - 2 * DAY, NOW - DAY)
    assert sorted(s.name for s in revealed.servers) == [SERVER, SERVER_2]
    # The label beside each name is the one the masked page shows for its stored hash.
    assert revealed.server_names() == {
        server_label(
            server_name_hash(sealer, SERVER, period=hash_period((NOW - DAY).date()))
        ): SERVER,
        server_label(
            server_name_hash(sealer, SERVER_2, period=hash_period((NOW - DAY).date()))
        ): SERVER_2,
    }
    shown = repr(revealed)
    for elsewhere in (OTHER_SERVER, OTHER_IP, OLD_SERVER, OLD_IP):
        assert elsewhere not in shown


def test_pseudonymised_rows_are_counted_not_revealed(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    revealed = _reveal(session, sealer, usage.license, _staff(session, "admin"), None)
    assert revealed.pseudonymised == 1
    assert (
        server_label(
            server_name_hash(sealer, OLD_SERVER, period=hash_period((NOW - 30 * DAY).date()))
        )
        not in revealed.server_names()
    )
    assert OLD_IP not in {a.ip for a in revealed.addresses}


def test_usage_older_than_the_period_is_not_revealed(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    seat = make_seat(session, usage.license.id, None)
    observe(session, sealer, seat, ip="203.0.113.200", server="ancient", at=NOW - 120 * DAY)
    revealed = _reveal(session, sealer, usage.license, _staff(session, "admin"), None)
    assert revealed.days == 90
    assert "203.0.113.200" not in {a.ip for a in revealed.addresses}
    assert "ancient" not in {s.name for s in revealed.servers}


def test_the_audit_event_names_who_why_and_how_much_but_no_value(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    case = open_case(session, usage.license)
    analyst = _staff(session, "analyst")
    _reveal(session, sealer, usage.license, analyst, case, reason=f"  {REASON}\n ")

    [event] = _reveals(session)
    assert event.actor == f"staff:{analyst.id}"
    assert (event.subject_type, event.subject_id) == ("license", str(usage.license.id))
    assert event.data["case_id"] == str(case.id)
    assert event.data["reason"] == REASON  # as given, white space tidied
    assert (event.data["servers"], event.data["addresses"], event.data["days"]) == (2, 2, 90)
    assert event.data["fields"] == ["ip", "server_name"]
    written = json.dumps(event.data) + event.actor + event.subject_id
    for personal in (IP, IP_2, SERVER, SERVER_2, "203.0.113", analyst.email):
        assert personal not in written


def test_an_admin_reveals_without_a_case(session: Session, sealer: Sealer, usage: Usage) -> None:
    admin = _staff(session, "admin")
    revealed = _reveal(session, sealer, usage.license, admin, None)
    assert len(revealed.addresses) == 2
    [event] = _reveals(session)
    assert event.data["case_id"] is None
    assert event.actor == f"staff:{admin.id}"


def test_a_viewer_never_reveals(session: Session, sealer: Sealer, usage: Usage) -> None:
    case = open_case(session, usage.license)
    with pytest.raises(Forbidden, match="viewers never reveal"):
        _reveal(session, sealer, usage.license, _staff(session, "viewer"), case)
    assert _reveals(session) == []


def test_an_analyst_without_a_case_is_refused(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    with pytest.raises(Forbidden, match="case under way"):
        _reveal(session, sealer, usage.license, _staff(session, "analyst"), None)
    assert _reveals(session) == []


def test_an_analyst_with_a_dismissed_case_is_refused(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    case = open_case(session, usage.license)
    actions.dismiss(session, case, reason="a failover pair", actor="test:pytest", now=NOW)
    assert case.status == CaseStatus.DISMISSED
    with pytest.raises(Forbidden, match="case under way"):
        _reveal(session, sealer, usage.license, _staff(session, "analyst"), case)
    assert _reveals(session) == []


def test_a_confirmed_case_is_still_under_way(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    case = open_case(session, usage.license)
    actions.confirm(session, case, reason="four servers", actor="test:pytest", now=NOW)
    revealed = _reveal(session, sealer, usage.license, _staff(session, "analyst"), case)
    assert len(revealed.servers) == 2


def test_a_case_of_another_license_is_no_purpose(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    elsewhere = open_case(session, usage.other)
    with pytest.raises(NotFound):
        _reveal(session, sealer, usage.license, _staff(session, "analyst"), elsewhere)
    assert _reveals(session) == []


@pytest.mark.parametrize("reason", ["", "   ", "too short", "x" * 501])
def test_a_missing_short_or_overlong_reason_is_refused(
    session: Session, sealer: Sealer, usage: Usage, reason: str
) -> None:
    with pytest.raises(InvalidRequest, match="reason"):
        _reveal(session, sealer, usage.license, _staff(session, "admin"), None, reason=reason)
    assert _reveals(session) == []


def test_why_not_revealable_by_role_and_case(session: Session, sealer: Sealer) -> None:
    case = open_case(session, make_license(session, sealer).license)
    assert why_not_revealable(StaffRole.VIEWER, case) is not None
    assert why_not_revealable(StaffRole.ANALYST, case) is None
    assert why_not_revealable(StaffRole.ANALYST, None) is not None
    assert why_not_revealable(StaffRole.ADMIN, None) is None
    case.status = CaseStatus.DISMISSED.value
    assert why_not_revealable(StaffRole.ANALYST, case) is not None
    assert why_not_revealable(StaffRole.ADMIN, case) is None


def test_a_confirmed_case_is_a_purpose_only_while_a_step_of_its_ladder_is_left(
    session: Session, sealer: Sealer
) -> None:
    case = open_case(session, make_license(session, sealer).license)
    assert is_reveal_purpose(case)
    actions.confirm(session, case, reason="four hosts on one seat", actor="test:pytest", now=NOW)
    assert is_reveal_purpose(case)
    for step in (EscalationStep.NOTIFY_CUSTOMER, EscalationStep.FINAL_NOTICE):
        case.escalation_step = step.value
        assert is_reveal_purpose(case) and why_not_revealable(StaffRole.ANALYST, case) is None
    case.escalation_step = EscalationStep.SUSPEND.value  # the ladder walked, kept confirmed
    assert not is_reveal_purpose(case)
    assert "ladder" in (why_not_revealable(StaffRole.ANALYST, case) or "")
    assert why_not_revealable(StaffRole.ADMIN, case) is None  # an admin's reason is enough
    case.status = CaseStatus.DISMISSED.value
    case.escalation_step = None
    assert not is_reveal_purpose(case)


def test_an_analyst_cannot_reveal_for_a_case_whose_ladder_is_walked(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    case = open_case(session, usage.license)
    actions.confirm(
        session, case, reason="plainly misuse", actor="test:pytest", now=NOW, suspend=True
    )
    assert case.status == CaseStatus.CONFIRMED
    with pytest.raises(Forbidden, match="a step of the ladder left"):
        _reveal(session, sealer, usage.license, _staff(session, "analyst"), case)
    assert _reveals(session) == []


def test_an_activation_s_name_is_revealed_only_if_it_was_seen_in_the_period(
    session: Session, sealer: Sealer, usage: Usage
) -> None:
    stale = make_seat(session, usage.license.id, "long-gone.example.org")
    stale.last_check_in_at = NOW - 91 * DAY
    recent = make_seat(session, usage.license.id, "quiet-but-live.example.org")
    recent.last_check_in_at = NOW - 89 * DAY
    session.flush()
    revealed = _reveal(session, sealer, usage.license, _staff(session, "admin"), None)
    names = {s.name for s in revealed.servers}
    assert "quiet-but-live.example.org" in names
    assert "long-gone.example.org" not in names
