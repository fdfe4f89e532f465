"""A NUL in any query or form name or value is refused at the console's edge (400).

PostgreSQL refuses a NUL in text, so without the edge check each of these was a 500 from
the first query binding the value (the sign-in's look-up included); SQLite stored it.
"""

from __future__ import annotations

import pytest
from flask.testing import FlaskClient
from sqlalchemy import func, select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from licensing.misuse.findings import Rule
from licensing.models import AuditEvent, StaffUser
from tests.functional.cli.misuse_helpers import audit_actions, open_case
from tests.functional.conftest import MakeLicensed
from tests.functional.console.conftest import (
    PASSWORD,
    MakeStaff,
    csrf_token,
    session_cookie,
    sign_in,
)

REFUSAL = "The request contained a character that is not allowed"


def _refused(response: TestResponse) -> None:
    assert response.status_code == 400, response.get_data(as_text=True)
    assert REFUSAL in response.get_data(as_text=True)
    assert "no-store" in response.headers["Cache-Control"]


def _audit_count(session: Session) -> int:
    session.expire_all()
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.mark.parametrize(
    "form",
    [
        {"email": "a\x00@x", "password": PASSWORD},
        {"email": "analyst@example.org", "password": "a\x00"},
        {"email": "analyst@example.org", "password": PASSWORD, "x\x00": "1"},
    ],
    ids=["nul-in-email", "nul-in-password", "nul-in-a-field-name"],
)
def test_a_sign_in_with_a_nul_is_refused_before_anything_is_read(
    client: FlaskClient, session: Session, make_staff: MakeStaff, form: dict[str, str]
) -> None:
    staff = make_staff("analyst")
    audited = _audit_count(session)
    token = csrf_token(client.get("/staff/login"))

    _refused(client.post("/staff/login", data=form | {"csrf_token": token}))
    _refused(client.post("/staff/login", data=form))  # no token: the same refusal, no 500

    session.expire_all()
    assert session.get_one(StaffUser, staff.id).failed_logins == 0
    assert _audit_count(session) == audited
    assert "/staff/login" in client.get("/staff/").headers["Location"]  # still signed out
    assert sign_in(client, "analyst@example.org").status_code == 303  # a normal one works
    assert session_cookie(client)


def test_a_nul_in_the_token_field_is_the_character_refusal(client: FlaskClient) -> None:
    client.get("/staff/login")
    _refused(client.post("/staff/login", data={"email": "a@x", "csrf_token": "\x00"}))


@pytest.mark.parametrize(
    ("path", "query"),
    [
        ("/staff/search", {"q": "a\x00b"}),
        ("/staff/misuse", {"assignee": "\x00"}),
        ("/staff/audit", {"actor": "\x00"}),
        ("/staff/audit", {"\x00": "x"}),
    ],
    ids=["search", "misuse-assignee", "audit-actor", "nul-in-a-name"],
)
def test_a_page_asked_with_a_nul_is_refused_and_works_without(
    client: FlaskClient, make_staff: MakeStaff, path: str, query: dict[str, str]
) -> None:
    make_staff("viewer")
    sign_in(client, "viewer@example.org")

    _refused(client.get(path, query_string=query))

    clean = {name.replace("\x00", "n"): value.replace("\x00", "x") for name, value in query.items()}
    assert client.get(path, query_string=clean).status_code == 200


def test_a_nul_spelt_in_the_url_is_refused(client: FlaskClient, make_staff: MakeStaff) -> None:
    make_staff("viewer")
    sign_in(client, "viewer@example.org")
    _refused(client.get("/staff/search?q=a%00b"))


def test_a_form_with_a_nul_changes_nothing_whatever_the_token(
    client: FlaskClient, session: Session, make_staff: MakeStaff, make_licensed: MakeLicensed
) -> None:
    case = open_case(session, make_licensed().license, Rule.SERVER_SPREAD)
    session.commit()
    make_staff("analyst")
    sign_in(client, "analyst@example.org")
    token = csrf_token(client.get(f"/staff/misuse/{case.id}"))
    note = f"/staff/misuse/{case.id}/note"
    audited = _audit_count(session)

    _refused(client.post(note, data={"text": "a\x00note", "csrf_token": token}))
    _refused(client.post(note, data={"text": "a note", "csrf_token": token, "\x00": ""}))
    _refused(client.post(note, data={"text": "a\x00note"}))  # no token either
    _refused(client.post(note, data={"text": "a\x00note", "csrf_token": "forged"}))

    assert _audit_count(session) == audited
    assert "misuse_case.noted" not in audit_actions(session, case.id)
    done = client.post(note, data={"text": "a note", "csrf_token": token})
    assert done.status_code == 303
    assert "misuse_case.noted" in audit_actions(session, case.id)
