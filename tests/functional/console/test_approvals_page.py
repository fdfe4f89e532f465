"""The approvals page under four eyes: a second admin approves or turns down a revocation;
the admin who asked may only withdraw it."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import ApprovalRequest, License, LicenseStatus, StaffUser
from licensing.services import approvals
from licensing.timeutil import utcnow
from tests.factories import latest_event, make_license
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in

REASON = "chargeback: the card was stolen"


@pytest.fixture
def console(four_eyes_app: Flask) -> FlaskClient:
    return four_eyes_app.test_client()


@pytest.fixture
def asker(make_staff: MakeStaff) -> StaffUser:
    return make_staff("admin", "asker@example.org")


@pytest.fixture
def second(make_staff: MakeStaff) -> StaffUser:
    return make_staff("admin", "second@example.org")


@pytest.fixture
def license(session: Session, sealer: Sealer) -> License:
    license = make_license(session, sealer).license
    session.commit()
    return license


@pytest.fixture
def waiting(session: Session, license: License, asker: StaffUser) -> ApprovalRequest:
    request = approvals.request_revocation(
        session, license, reason=REASON, requested_by=asker, now=utcnow()
    )
    session.commit()
    return request


def _buttons(body: str) -> list[str]:
    return re.findall(r'<button type="submit">([^<]+)</button>', body)


def _reload(session: Session, *rows: object) -> None:
    session.expire_all()
    for row in rows:
        session.refresh(row)


def test_a_second_admin_sees_the_request_and_approves_it(
    console: FlaskClient,
    session: Session,
    license: License,
    asker: StaffUser,
    second: StaffUser,
    waiting: ApprovalRequest,
) -> None:
    sign_in(console, "second@example.org")
    page = console.get("/staff/approvals")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="pending"' in body and REASON in body
    assert f"/staff/approvals/{waiting.id}/approve" in body
    assert {"Approve and revoke", "Turn down"} <= set(_buttons(body))

    done = console.post(
        f"/staff/approvals/{waiting.id}/approve",
        data={"note": "checked the bank's notice", "csrf_token": csrf_token(page)},
    )

    assert done.status_code == 303
    after = console.get(done.headers["Location"]).get_data(as_text=True)
    assert "Approved: the license is revoked." in after
    assert "Nothing is waiting for approval." in after
    assert 'id="decided"' in after and "checked the bank&#39;s notice" in after
    _reload(session, license, waiting)
    assert license.status == LicenseStatus.REVOKED
    assert (waiting.status, waiting.decided_by) == ("approved", second.id)
    event = latest_event(session)
    assert event.action == "license.revoked"
    assert event.actor == f"staff:{second.id}"
    assert event.data["requested_by"] == f"staff:{asker.id}"


def test_the_asker_may_only_withdraw_the_own_request(
    console: FlaskClient,
    session: Session,
    license: License,
    asker: StaffUser,
    waiting: ApprovalRequest,
) -> None:
    sign_in(console, "asker@example.org")
    page = console.get("/staff/approvals")
    body = page.get_data(as_text=True)
    assert REASON in body
    assert _buttons(body).count("Withdraw") == 1
    assert "Approve and revoke" not in body and "Turn down" not in body
    assert f"/staff/approvals/{waiting.id}/approve" not in body

    forged = console.post(
        f"/staff/approvals/{waiting.id}/approve",
        data={"note": "", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "Not done: a request must be approved by another admin" in forged.get_data(as_text=True)
    _reload(session, license, waiting)
    assert license.status == LicenseStatus.ACTIVE and waiting.status == "pending"

    withdrawn = console.post(
        f"/staff/approvals/{waiting.id}/reject",
        data={"note": "", "csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "The request is closed." in withdrawn.get_data(as_text=True)
    _reload(session, license, waiting)
    assert waiting.status == "withdrawn"
    assert license.status == LicenseStatus.ACTIVE


def test_a_second_admin_turns_the_request_down(
    console: FlaskClient,
    session: Session,
    license: License,
    second: StaffUser,
    waiting: ApprovalRequest,
) -> None:
    sign_in(console, "second@example.org")
    page = console.get("/staff/approvals")
    done = console.post(
        f"/staff/approvals/{waiting.id}/reject",
        data={"csrf_token": csrf_token(page)},
        follow_redirects=True,
    )
    assert "The request is closed." in done.get_data(as_text=True)
    _reload(session, license, waiting)
    assert (waiting.status, waiting.decided_by) == ("rejected", second.id)
    assert license.status == LicenseStatus.ACTIVE


def test_a_request_decided_already_is_a_message(
    console: FlaskClient,
    session: Session,
    license: License,
    second: StaffUser,
    waiting: ApprovalRequest,
) -> None:
    sign_in(console, "second@example.org")
    page = console.get("/staff/approvals")
    token = csrf_token(page)
    console.post(f"/staff/approvals/{waiting.id}/approve", data={"csrf_token": token})
    again = console.post(
        f"/staff/approvals/{waiting.id}/approve",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Not done: the request was already approved." in again.get_data(as_text=True)
    _reload(session, license)
    assert license.status == LicenseStatus.REVOKED


def test_an_unknown_or_malformed_request_id_is_not_found(
    console: FlaskClient, second: StaffUser, waiting: ApprovalRequest
) -> None:
    sign_in(console, "second@example.org")
    token = csrf_token(console.get("/staff/approvals"))
    malformed = console.post("/staff/approvals/nope/approve", data={"csrf_token": token})
    assert malformed.status_code == 404
    unknown = console.post(
        "/staff/approvals/00000000-0000-0000-0000-000000000000/approve",
        data={"csrf_token": token},
        follow_redirects=True,
    )
    assert "Not done: no such approval request." in unknown.get_data(as_text=True)


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_only_admins_open_the_page_or_decide(
    console: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    license: License,
    waiting: ApprovalRequest,
    role: str,
) -> None:
    make_staff(role)
    sign_in(console, f"{role}@example.org")
    assert console.get("/staff/approvals").status_code == 403
    token = csrf_token(console.get("/staff/"))  # a valid token: the sign-out form's
    forged = console.post(f"/staff/approvals/{waiting.id}/approve", data={"csrf_token": token})
    assert forged.status_code == 403
    _reload(session, license, waiting)
    assert license.status == LicenseStatus.ACTIVE and waiting.status == "pending"


def test_an_approval_without_the_csrf_token_is_refused(
    console: FlaskClient,
    session: Session,
    license: License,
    second: StaffUser,
    waiting: ApprovalRequest,
) -> None:
    sign_in(console, "second@example.org")
    refused = console.post(f"/staff/approvals/{waiting.id}/approve", data={"note": ""})
    assert refused.status_code == 400
    _reload(session, license)
    assert license.status == LicenseStatus.ACTIVE


def test_the_page_shows_an_empty_state(console: FlaskClient, second: StaffUser) -> None:
    sign_in(console, "second@example.org")
    body = console.get("/staff/approvals").get_data(as_text=True)
    assert "Nothing is waiting for approval." in body and "None yet." in body
