"""Fixtures for the staff console: accounts of each role, and a browser-like client."""

from __future__ import annotations

import re
from collections.abc import Callable

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from licensing.models import StaffUser
from licensing.services import staff as accounts

PASSWORD = "a long enough passphrase"
_TOKEN = re.compile(r'name="csrf_token" type="hidden" value="([^"]+)"')

MakeStaff = Callable[..., StaffUser]


@pytest.fixture
def make_staff(session: Session, actor: str) -> MakeStaff:
    def make(role: str = "viewer", email: str | None = None) -> StaffUser:
        staff = accounts.add_staff(
            session,
            email=email or f"{role}@example.org",
            display_name=role.title(),
            role=role,
            password=PASSWORD,
            actor=actor,
        )
        session.commit()
        return staff

    return make


def csrf_token(response: TestResponse) -> str:
    found = _TOKEN.search(response.get_data(as_text=True))
    assert found, response.get_data(as_text=True)
    return found.group(1)


def sign_in(
    client: FlaskClient, email: str, password: str = PASSWORD, *, next_: str | None = None
) -> TestResponse:
    page = client.get("/staff/login")
    url = "/staff/login" + (f"?next={next_}" if next_ else "")
    return client.post(
        url, data={"email": email, "password": password, "csrf_token": csrf_token(page)}
    )


def session_cookie(client: FlaskClient) -> str | None:
    cookie = client.get_cookie("licensing_staff", path="/staff")
    return cookie.value if cookie else None
