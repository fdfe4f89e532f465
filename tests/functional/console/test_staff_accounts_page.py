"""The staff accounts page: admins list, add, re-role, reset and disable accounts."""

from __future__ import annotations

import re

import pytest
from flask import g
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from licensing.crypto.passwords import verify_password
from licensing.models import AuditEvent, StaffUser
from licensing.services import staff as accounts
from tests.functional.console.conftest import PASSWORD, MakeStaff, csrf_token
from tests.functional.console.conftest import sign_in as _sign_in

PAGE = "/staff/accounts"
_PASSWORD = re.compile(r'<code id="new-password">([^<]+)</code>')
CHANGES = {"staff.role_set", "staff.disabled", "staff.password_reset"}


def _switch_to(client: FlaskClient) -> FlaskClient:
    """Forget the CSRF token Flask-WTF keeps in ``g``: the tests' app context outlives a
    request, and the token cached there belongs to the last client's session."""
    g.pop("csrf_token", None)
    return client


def sign_in(client: FlaskClient, email: str, password: str = PASSWORD) -> TestResponse:
    return _sign_in(_switch_to(client), email, password)


def _admin(client: FlaskClient, make_staff: MakeStaff) -> StaffUser:
    admin = make_staff("admin")
    assert sign_in(client, "admin@example.org").status_code == 303
    return admin


def _post(client: FlaskClient, path: str, **data: str) -> TestResponse:
    token = csrf_token(_switch_to(client).get(PAGE))
    return client.post(path, data={**data, "csrf_token": token})


def _shown_password(response: TestResponse) -> str:
    found = _PASSWORD.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1)


def _flash(client: FlaskClient, response: TestResponse) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    assert response.headers["Location"].endswith(PAGE)
    return client.get(PAGE).get_data(as_text=True)


def _changes(session: Session, staff: StaffUser) -> list[str]:
    """The audited changes to the account (its own sign-ins left out)."""
    query = select(AuditEvent.action).where(
        AuditEvent.subject_id == str(staff.id), AuditEvent.action.in_(CHANGES)
    )
    return list(session.scalars(query.order_by(AuditEvent.seq)))


def _row(page: str, staff: StaffUser) -> str:
    found = re.search(rf'<tr id="account-{staff.id}">(.*?)</tr>', page, re.S)
    assert found, page
    return found.group(1)


def test_the_list_shows_every_account(
    client: FlaskClient, session: Session, make_staff: MakeStaff
) -> None:
    admin = _admin(client, make_staff)
    alone = client.get(PAGE)
    assert alone.status_code == 200
    row = _row(alone.get_data(as_text=True), admin)
    assert "Admin" in row and "(you)" in row and "admin@example.org" in row
    assert "active" in row and "Disable" not in row  # not one's own account

    viewer = make_staff("viewer")
    locked = make_staff("analyst")
    locked.locked_until = accounts.utcnow().replace(year=2999)
    accounts.disable_staff(session, viewer, actor="test")
    session.commit()
    page = client.get(PAGE).get_data(as_text=True)
    assert page.count('<tr id="account-') == 3
    assert "disabled" in _row(page, viewer) and "viewer@example.org" in _row(page, viewer)
    assert "locked until 2999" in _row(page, locked)
    assert "Reset password and unlock" in _row(page, locked)
    assert "never" in _row(page, locked)  # has not signed in yet
    assert 'href="/staff/accounts"' in page  # the masthead link


def test_an_admin_adds_an_account_and_sees_its_password_once(
    client: FlaskClient, session: Session, make_staff: MakeStaff
) -> None:
    admin = _admin(client, make_staff)
    shown = _post(client, PAGE, email=" New@Example.org ", display_name="Nell New", role="analyst")
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    body = shown.get_data(as_text=True)
    assert 'id="shown-once"' in body and "Shown once" in body
    password = _shown_password(shown)

    added = accounts.staff_by_email(session, "new@example.org")
    assert added is not None and (added.role, added.display_name) == ("analyst", "Nell New")
    assert verify_password(added.password_hash, password)
    assert password not in added.password_hash
    event = session.scalars(select(AuditEvent).where(AuditEvent.subject_id == str(added.id))).one()
    assert (event.action, event.actor, event.data) == (
        "staff.added",
        f"staff:{admin.id}",
        {"role": "analyst"},
    )
    assert "example.org" not in str(event.data) and password not in str(event.data)

    later = client.get(PAGE).get_data(as_text=True)
    assert password not in later and "new@example.org" in later

    newcomer = client.application.test_client()
    assert sign_in(newcomer, "new@example.org", password).status_code == 303
    assert newcomer.get("/staff/").status_code == 200


@pytest.mark.parametrize(
    ("email", "name", "role", "message"),
    [
        ("admin@EXAMPLE.org", "Twin", "viewer", "already has that e-mail address"),
        ("not-an-address", "X", "viewer", "not an e-mail address"),
        ("x" * 321, "X", "viewer", "E-mail: Field cannot be longer than 320"),
        ("x@nodot", "X", "viewer", "not an e-mail address"),
        ("x@example.org", "   ", "viewer", "Display name: This field is required"),
        ("x@example.org", "x" * 201, "viewer", "Display name: Field cannot be longer"),
        ("x@example.org", "X", "owner", "must be one of: viewer, analyst, admin"),
        ("x@example.org", "", "viewer", "Display name: This field is required"),
    ],
)
def test_bad_input_to_add_is_a_message(
    client: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    email: str,
    name: str,
    role: str,
    message: str,
) -> None:
    _admin(client, make_staff)
    refused = _post(client, PAGE, email=email, display_name=name, role=role)
    page = _flash(client, refused)
    assert "Not added:" in page and message in page
    assert len(accounts.list_staff(session)) == 1


def test_setting_a_role_ends_that_accounts_sessions(
    client: FlaskClient, session: Session, make_staff: MakeStaff
) -> None:
    admin = _admin(client, make_staff)
    analyst = make_staff("analyst")
    other = client.application.test_client()
    sign_in(other, "analyst@example.org")
    assert other.get("/staff/").status_code == 200

    done = _post(client, f"{PAGE}/{analyst.id}/role", role="viewer")
    page = _flash(client, done)
    assert "Analyst is now viewer" in page
    session.refresh(analyst)
    assert analyst.role == "viewer"
    assert "viewer" in _row(page, analyst)
    event = session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.role_set")).one()
    assert (event.actor, event.data) == (f"staff:{admin.id}", {"from": "analyst", "to": "viewer"})

    assert other.get("/staff/").status_code == 303  # signed out at its next request
    assert client.get("/staff/").status_code == 200  # the admin's own session goes on


def test_resetting_a_password_shows_it_once_and_lifts_a_lockout(
    client: FlaskClient, session: Session, make_staff: MakeStaff
) -> None:
    _admin(client, make_staff)
    analyst = make_staff("analyst")
    other = client.application.test_client()
    sign_in(other, "analyst@example.org")
    analyst.locked_until = accounts.utcnow().replace(year=2999)
    analyst.failed_logins = 5
    session.commit()

    shown = _post(client, f"{PAGE}/{analyst.id}/reset-password")
    assert shown.status_code == 200 and "Password reset" in shown.get_data(as_text=True)
    password = _shown_password(shown)
    session.refresh(analyst)
    assert verify_password(analyst.password_hash, password)
    assert (analyst.locked_until, analyst.failed_logins) == (None, 0)
    assert _changes(session, analyst) == ["staff.password_reset"]
    assert password not in client.get(PAGE).get_data(as_text=True)

    assert other.get("/staff/").status_code == 303
    assert sign_in(other, "analyst@example.org", password).status_code == 303
    assert other.get("/staff/").status_code == 200


def test_disabling_an_account(client: FlaskClient, session: Session, make_staff: MakeStaff) -> None:
    _admin(client, make_staff)
    viewer = make_staff("viewer")
    other = client.application.test_client()
    sign_in(other, "viewer@example.org")

    page = _flash(client, _post(client, f"{PAGE}/{viewer.id}/disable"))
    assert "Viewer is disabled" in page
    assert "disabled" in _row(page, viewer) and "Set role" not in _row(page, viewer)
    session.refresh(viewer)
    assert viewer.is_disabled
    assert other.get("/staff/").status_code == 303

    again = _flash(client, _post(client, f"{PAGE}/{viewer.id}/disable"))
    assert "Not done: staff account" in again and "already disabled" in again


@pytest.mark.parametrize("change", ["role", "disable"])
def test_an_admin_may_not_demote_or_disable_their_own_account(
    client: FlaskClient, session: Session, make_staff: MakeStaff, change: str
) -> None:
    admin = _admin(client, make_staff)
    make_staff("admin", email="second@example.org")  # not the last admin: still refused
    refused = _post(client, f"{PAGE}/{admin.id}/{change}", role="viewer")
    page = _flash(client, refused)
    assert "Not done: you may not demote or disable your own account" in page
    session.refresh(admin)
    assert (admin.role, admin.is_disabled) == ("admin", False)
    assert _changes(session, admin) == []


def test_the_only_admin_is_refused_too(
    client: FlaskClient, session: Session, make_staff: MakeStaff
) -> None:
    # From the page the acting admin is always an active admin: the last one can only be
    # one's own account (the service's last-admin rule is tested in unit and CLI tests).
    admin = _admin(client, make_staff)
    for change in ("role", "disable"):
        refused = _post(client, f"{PAGE}/{admin.id}/{change}", role="analyst")
        assert "Not done: you may not demote or disable your own account" in _flash(client, refused)
    session.refresh(admin)
    assert (admin.role, admin.is_disabled) == ("admin", False)
    assert client.get(PAGE).status_code == 200  # still signed in, still an admin


def test_an_admin_may_reset_their_own_password_and_then_signs_in_again(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    admin = _admin(client, make_staff)
    password = _shown_password(_post(client, f"{PAGE}/{admin.id}/reset-password"))
    assert client.get(PAGE).status_code == 303  # this session ended with the old password
    assert sign_in(client, "admin@example.org", password).status_code == 303
    assert client.get(PAGE).status_code == 200


@pytest.mark.parametrize("role", ["viewer", "analyst"])
def test_a_viewer_or_analyst_is_refused(
    client: FlaskClient, session: Session, make_staff: MakeStaff, role: str
) -> None:
    target = make_staff("admin")
    make_staff(role)
    sign_in(client, f"{role}@example.org")
    assert client.get(PAGE).status_code == 403
    token = csrf_token(client.get("/staff/"))  # a valid token: the sign-out form's
    for path, data in (
        (PAGE, {"email": "x@example.org", "display_name": "X", "role": "admin"}),
        (f"{PAGE}/{target.id}/role", {"role": "viewer"}),
        (f"{PAGE}/{target.id}/reset-password", {}),
        (f"{PAGE}/{target.id}/disable", {}),
    ):
        forged = client.post(path, data={**data, "csrf_token": token})
        assert forged.status_code == 403, path
        assert "new-password" not in forged.get_data(as_text=True)
    session.refresh(target)
    assert (target.role, target.is_disabled) == ("admin", False)
    assert _changes(session, target) == []
    assert accounts.staff_by_email(session, "x@example.org") is None


def test_a_post_without_the_csrf_token_is_refused(
    client: FlaskClient, session: Session, make_staff: MakeStaff
) -> None:
    _admin(client, make_staff)
    viewer = make_staff("viewer")
    for path, data in (
        (PAGE, {"email": "x@example.org", "display_name": "X", "role": "admin"}),
        (f"{PAGE}/{viewer.id}/role", {"role": "admin"}),
        (f"{PAGE}/{viewer.id}/reset-password", {}),
        (f"{PAGE}/{viewer.id}/disable", {}),
    ):
        refused = client.post(path, data=data)
        assert refused.status_code == 400, path
        assert "new-password" not in refused.get_data(as_text=True)
    session.refresh(viewer)
    assert (viewer.role, viewer.is_disabled) == ("viewer", False)
    assert _changes(session, viewer) == []


@pytest.mark.parametrize("account", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
@pytest.mark.parametrize("change", ["role", "reset-password", "disable"])
def test_an_unknown_account_is_not_found(
    client: FlaskClient, make_staff: MakeStaff, account: str, change: str
) -> None:
    _admin(client, make_staff)
    assert _post(client, f"{PAGE}/{account}/{change}", role="viewer").status_code == 404


def test_a_bad_role_is_a_message(
    client: FlaskClient, session: Session, make_staff: MakeStaff
) -> None:
    _admin(client, make_staff)
    viewer = make_staff("viewer")
    page = _flash(client, _post(client, f"{PAGE}/{viewer.id}/role", role="owner"))
    assert "Not done: Role: Invalid value, must be one of" in page
    same = _flash(client, _post(client, f"{PAGE}/{viewer.id}/role", role="viewer"))
    assert "No change" in same
    assert _changes(session, viewer) == []
