"""Revealing a case's raw addresses and server names on its page: for a reason, audited,
shown on that one response only, never to a viewer."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer, hash_period
from licensing.models import AuditEvent
from licensing.models.misuse import MisuseCase
from licensing.privacy.masking import server_label
from licensing.privacy.pseudonymise import server_name_hash
from licensing.timeutil import utcnow
from tests.functional.cli.misuse_helpers import open_case
from tests.functional.conftest import MakeLicensed
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in
from tests.usage_rows import make_seat, observe

RAW_IP = "203.0.113.9"
RAW_SERVER = "mail-7.example.net"
REASON = "four servers on one seat: which hosts are they?"


@pytest.fixture
def case(session: Session, sealer: Sealer, make_licensed: MakeLicensed) -> MisuseCase:
    license = make_licensed().license
    seat = make_seat(session, license.id, RAW_SERVER)
    observe(session, sealer, seat, ip=RAW_IP, server=RAW_SERVER, at=utcnow() - timedelta(days=1))
    case = open_case(session, license)
    session.commit()
    return case


def _as(client: FlaskClient, make_staff: MakeStaff, role: str) -> None:
    make_staff(role)
    sign_in(client, f"{role}@example.org")


def _reveals(session: Session) -> int:
    session.expire_all()
    return (
        session.scalar(
            select(func.count())
            .select_from(AuditEvent)
            .where(AuditEvent.action == "personal_data.revealed")
        )
        or 0
    )


def _no_raw_value(body: str) -> None:
    assert RAW_IP not in body
    assert RAW_SERVER not in body


def test_a_viewer_sees_no_reveal_form_and_a_forged_reveal_is_refused(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    _as(client, make_staff, "viewer")
    page = client.get(f"/staff/misuse/{case.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="reveal-form"' not in body
    _no_raw_value(body)
    token = csrf_token(client.get("/staff/"))  # a valid token: the sign-out form's
    forged = client.post(
        f"/staff/misuse/{case.id}/reveal", data={"reason": REASON, "csrf_token": token}
    )
    assert forged.status_code == 403
    _no_raw_value(forged.get_data(as_text=True))
    assert _reveals(session) == 0


def test_an_analyst_reveals_for_one_response_only(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    case: MisuseCase,
) -> None:
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    before = page.get_data(as_text=True)
    assert 'id="reveal-form"' in before
    _no_raw_value(before)

    shown = client.post(
        f"/staff/misuse/{case.id}/reveal", data={"reason": REASON, "csrf_token": csrf_token(page)}
    )

    body = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    assert 'id="revealed"' in body
    assert RAW_IP in body and RAW_SERVER in body
    assert (
        server_label(
            server_name_hash(
                sealer, RAW_SERVER, period=hash_period((utcnow() - timedelta(days=1)).date())
            )
        )
        in body
    )  # beside its label
    assert "203.0.113.0/24" in body
    assert _reveals(session) == 1

    again = client.get(f"/staff/misuse/{case.id}")
    assert again.status_code == 200
    assert 'id="revealed"' not in again.get_data(as_text=True)
    _no_raw_value(again.get_data(as_text=True))


def test_an_analyst_with_a_dismissed_case_is_offered_no_reveal(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    case.status = "dismissed"
    session.commit()
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    body = page.get_data(as_text=True)
    assert 'id="reveal-form"' not in body
    assert "Revealing needs a case under way" in body
    refused = client.post(
        f"/staff/misuse/{case.id}/reveal",
        data={"reason": REASON, "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Not revealed: an analyst reveals personal data only for a case under way" in (
        refused.get_data(as_text=True)
    )
    _no_raw_value(refused.get_data(as_text=True))
    assert _reveals(session) == 0


@pytest.mark.parametrize("reason", ["", "too short"])
def test_a_short_reason_is_a_message_and_nothing_is_revealed(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase, reason: str
) -> None:
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    refused = client.post(
        f"/staff/misuse/{case.id}/reveal", data={"reason": reason, "csrf_token": csrf_token(page)}
    )
    assert refused.status_code == 303
    assert refused.headers["Location"].endswith(f"/staff/misuse/{case.id}")
    told = client.get(refused.headers["Location"]).get_data(as_text=True)
    assert "Not revealed: give the reason, in 10 to 500 characters." in told
    _no_raw_value(told)
    assert _reveals(session) == 0


def test_a_reveal_without_the_csrf_token_is_refused(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    _as(client, make_staff, "analyst")
    refused = client.post(f"/staff/misuse/{case.id}/reveal", data={"reason": REASON})
    assert refused.status_code == 400
    _no_raw_value(refused.get_data(as_text=True))
    assert _reveals(session) == 0


def test_an_unknown_case_is_not_found(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    _as(client, make_staff, "admin")
    page = client.get(f"/staff/misuse/{case.id}")
    missing = client.post(
        "/staff/misuse/00000000-0000-0000-0000-000000000000/reveal",
        data={"reason": REASON, "csrf_token": csrf_token(page)},
    )
    assert missing.status_code == 404
    assert _reveals(session) == 0


def test_an_analyst_is_offered_no_reveal_once_the_ladder_is_walked(
    client: FlaskClient, session: Session, make_staff: MakeStaff, case: MisuseCase
) -> None:
    case.status = "confirmed"
    case.decided_at = utcnow()
    case.escalation_step = "suspend"  # the last step taken: confirmed for good, nothing left
    case.escalated_at = utcnow()
    session.commit()
    _as(client, make_staff, "analyst")
    page = client.get(f"/staff/misuse/{case.id}")
    body = page.get_data(as_text=True)
    assert 'id="reveal-form"' not in body and 'id="no-reveal"' in body
    refused = client.post(
        f"/staff/misuse/{case.id}/reveal",
        data={"reason": REASON, "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "a step of the ladder left" in refused.get_data(as_text=True)
    _no_raw_value(refused.get_data(as_text=True))
    assert _reveals(session) == 0
