"""Four eyes in the console: the second admin must not be an account the requester added,
promoted or gave a new password to on the staff accounts page, or one admin could make a
puppet, sign in as it and approve their own revocation."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask import Flask, g
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from licensing.crypto.sealing import Sealer
from licensing.models import ApprovalRequest, License, LicenseStatus, StaffUser
from licensing.services import approvals
from licensing.timeutil import utcnow
from tests.factories import latest_event, make_license
from tests.functional.console.conftest import PASSWORD, MakeStaff, csrf_token, sign_in

REASON = "chargeback: the card was stolen"
ACCOUNTS = "/staff/accounts"
_PASSWORD = re.compile(r'<code id="new-password">([^<]+)</code>')
REFUSED = "Not done: the approver&#39;s account was added, given its role or its password"


def _switch_to(client: FlaskClient) -> FlaskClient:
    # Flask-WTF caches the CSRF token in ``g``, which outlives a request in these tests.
    g.pop("csrf_token", None)
    return client


def _sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> None:
    signed = sign_in(_switch_to(client), email, password)
    assert signed.status_code == 303, signed.get_data(as_text=True)


def _post(client: FlaskClient, path: str, **data: str) -> TestResponse:
    token = csrf_token(_switch_to(client).get(ACCOUNTS))
    return client.post(path, data={**data, "csrf_token": token})


def _shown_password(response: TestResponse) -> str:
    found = _PASSWORD.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1)


@pytest.fixture
def license(session: Session, sealer: Sealer) -> License:
    license = make_license(session, sealer).license
    session.commit()
    return license


@pytest.fixture
def asker(make_staff: MakeStaff) -> StaffUser:
    return make_staff("admin", "asker@example.org")


@pytest.fixture
def waiting(session: Session, license: License, asker: StaffUser) -> ApprovalRequest:
    request = approvals.request_revocation(
        session, license, reason=REASON, requested_by=asker, now=utcnow()
    )
    session.commit()
    return request


def _approve(client: FlaskClient, request: ApprovalRequest) -> str:
    page = _switch_to(client).get("/staff/approvals")
    assert page.status_code == 200
    done = client.post(
        f"/staff/approvals/{request.id}/approve",
        data={"note": "looks right to me", "csrf_token": csrf_token(page)},
    )
    assert done.status_code == 303
    return client.get(done.headers["Location"]).get_data(as_text=True)


def _added_by_the_asker(asker_client: FlaskClient, make_staff: MakeStaff) -> tuple[str, str]:
    shown = _post(
        asker_client, ACCOUNTS, email="puppet@example.org", display_name="Puppet", role="admin"
    )
    assert shown.status_code == 200
    return "puppet@example.org", _shown_password(shown)


def _promoted_by_the_asker(asker_client: FlaskClient, make_staff: MakeStaff) -> tuple[str, str]:
    viewer = make_staff("viewer", "puppet@example.org")
    promoted = _post(asker_client, f"{ACCOUNTS}/{viewer.id}/role", role="admin")
    assert promoted.status_code == 303
    return "puppet@example.org", PASSWORD  # the asker gave the role, not the password


def _reset_by_the_asker(asker_client: FlaskClient, make_staff: MakeStaff) -> tuple[str, str]:
    other = make_staff("admin", "puppet@example.org")
    shown = _post(asker_client, f"{ACCOUNTS}/{other.id}/reset-password")
    assert shown.status_code == 200
    return "puppet@example.org", _shown_password(shown)


@pytest.mark.parametrize(
    "make_puppet", [_added_by_the_asker, _promoted_by_the_asker, _reset_by_the_asker]
)
def test_an_account_in_the_askers_hands_cannot_approve(
    four_eyes_app: Flask,
    session: Session,
    make_staff: MakeStaff,
    license: License,
    asker: StaffUser,
    waiting: ApprovalRequest,
    make_puppet: Callable[[FlaskClient, MakeStaff], tuple[str, str]],
) -> None:
    asker_client = four_eyes_app.test_client()
    _sign_in(asker_client, "asker@example.org")
    email, password = make_puppet(asker_client, make_staff)

    puppet = four_eyes_app.test_client()
    _sign_in(puppet, email, password)
    after = _approve(puppet, waiting)

    assert REFUSED in after
    session.expire_all()
    session.refresh(license)
    session.refresh(waiting)
    assert license.status == LicenseStatus.ACTIVE
    assert waiting.status == "pending"
    assert latest_event(session).action != "license.revoked"


def test_an_independent_admin_still_approves(
    four_eyes_app: Flask,
    session: Session,
    make_staff: MakeStaff,
    license: License,
    asker: StaffUser,
    waiting: ApprovalRequest,
) -> None:
    # The asker added someone else: that does not taint an admin the asker had no hand in.
    asker_client = four_eyes_app.test_client()
    _sign_in(asker_client, "asker@example.org")
    _added_by_the_asker(asker_client, make_staff)
    second = make_staff("admin", "second@example.org")

    approver = four_eyes_app.test_client()
    _sign_in(approver, "second@example.org")
    after = _approve(approver, waiting)

    assert "Approved: the license is revoked." in after
    session.expire_all()
    session.refresh(license)
    assert license.status == LicenseStatus.REVOKED
    event = latest_event(session)
    assert (event.action, event.actor) == ("license.revoked", f"staff:{second.id}")
    assert event.data["requested_by"] == f"staff:{asker.id}"
