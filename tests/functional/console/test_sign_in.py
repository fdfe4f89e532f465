"""Signing in and out of the console: rotation, lockout, timeouts, sessions ended."""

from __future__ import annotations

from datetime import timedelta

import pytest
from flask.testing import FlaskClient

from licensing.console import auth
from licensing.timeutil import utcnow
from tests.functional.console.conftest import (
    PASSWORD,
    MakeStaff,
    csrf_token,
    session_cookie,
    sign_in,
)
from tests.functional.metrics_scrape import scrape


def test_sign_in_shows_the_landing_page_then_sign_out(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    make_staff("analyst")

    response = sign_in(client, "Analyst@Example.org")

    assert response.status_code == 303 and response.headers["Location"] == "/staff/"
    home = client.get("/staff/")
    text = home.get_data(as_text=True)
    assert home.status_code == 200
    assert "analyst@example.org" in text and '<dd id="staff-role">analyst</dd>' in text

    out = client.post("/staff/logout", data={"csrf_token": csrf_token(home)})
    assert out.status_code == 303 and out.headers["Location"] == "/staff/login"
    assert client.get("/staff/").status_code == 303


def test_a_page_without_a_session_sends_to_sign_in_and_back(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    make_staff()
    response = client.get("/staff/")
    assert response.status_code == 303
    assert response.headers["Location"].startswith("/staff/login?next=/staff/")

    assert sign_in(client, "viewer@example.org", next_="/staff/?x=1").headers["Location"] == (
        "/staff/?x=1"
    )


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/staff/", "/v1/x"])
def test_sign_in_never_sends_elsewhere(
    client: FlaskClient, make_staff: MakeStaff, target: str
) -> None:
    make_staff()
    assert sign_in(client, "viewer@example.org", next_=target).headers["Location"] == "/staff/"


def test_sign_in_rotates_the_session(client: FlaskClient, make_staff: MakeStaff) -> None:
    make_staff()
    page = client.get("/staff/login")
    before, token_before = session_cookie(client), csrf_token(page)
    assert before is not None

    client.post(
        "/staff/login",
        data={"email": "viewer@example.org", "password": PASSWORD, "csrf_token": token_before},
    )

    after = session_cookie(client)
    assert after is not None and after != before
    assert csrf_token(client.get("/staff/")) != token_before
    # The cookie from before signing in is still only an anonymous one.
    fixed = client.application.test_client()
    fixed.set_cookie("licensing_staff", before, path="/staff")
    assert fixed.get("/staff/").status_code == 303


def test_one_message_whether_the_address_exists_or_not(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    make_staff()
    unknown = sign_in(client, "nobody@example.org", "wrong password")
    wrong = sign_in(client, "viewer@example.org", "wrong password")

    assert unknown.status_code == wrong.status_code == 200
    assert _alert(unknown) == _alert(wrong)


def test_lockout_after_repeated_failures_and_a_metric(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    make_staff()
    before = scrape(client, "licensing_staff_sign_in_failures_total", "outcome")

    failures = [sign_in(client, "viewer@example.org", "wrong password") for _ in range(5)]
    locked = sign_in(client, "viewer@example.org")  # the right password, too late

    assert locked.status_code == 200
    assert _alert(locked) == _alert(failures[0])  # a lock is not told apart either
    assert "5 failed attempts" in _alert(locked) and "15 minutes" in _alert(locked)
    after = scrape(client, "licensing_staff_sign_in_failures_total", "outcome")
    assert after.get("refused", 0) - before.get("refused", 0) == 4
    assert after.get("locked", 0) - before.get("locked", 0) == 2


def test_the_lock_runs_out(
    client: FlaskClient, make_staff: MakeStaff, monkeypatch: pytest.MonkeyPatch
) -> None:
    staff = make_staff()
    for _ in range(5):
        sign_in(client, "viewer@example.org", "wrong password")
    assert staff.locked_until is not None
    later = staff.locked_until + timedelta(seconds=1)
    monkeypatch.setattr("licensing.services.staff_sign_in.utcnow", lambda: later)
    assert sign_in(client, "viewer@example.org").status_code == 303


def test_the_idle_timeout_ends_a_session(
    client: FlaskClient, make_staff: MakeStaff, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_staff()
    sign_in(client, "viewer@example.org")
    start = utcnow()
    _clock(monkeypatch, start + timedelta(minutes=29))
    assert client.get("/staff/").status_code == 200  # used: the idle clock starts again
    _clock(monkeypatch, start + timedelta(minutes=58))
    assert client.get("/staff/").status_code == 200
    _clock(monkeypatch, start + timedelta(minutes=58 + 31))
    assert client.get("/staff/").status_code == 303
    assert auth.EXPIRED in client.get("/staff/login").get_data(as_text=True)


def test_the_absolute_timeout_ends_an_active_session(
    client: FlaskClient, make_staff: MakeStaff, monkeypatch: pytest.MonkeyPatch
) -> None:
    make_staff()
    sign_in(client, "viewer@example.org")
    start = utcnow()
    for minutes in range(20, 12 * 60, 20):  # busy all day, never idle for long
        _clock(monkeypatch, start + timedelta(minutes=minutes))
        assert client.get("/staff/").status_code == 200, minutes
    _clock(monkeypatch, start + timedelta(hours=12, minutes=1))
    assert client.get("/staff/").status_code == 303


def test_signing_out_ends_a_copied_cookie_too(client: FlaskClient, make_staff: MakeStaff) -> None:
    make_staff()
    sign_in(client, "viewer@example.org")
    home = client.get("/staff/")
    copied = session_cookie(client)
    assert copied is not None
    client.post("/staff/logout", data={"csrf_token": csrf_token(home)})

    thief = client.application.test_client()
    thief.set_cookie("licensing_staff", copied, path="/staff")
    assert thief.get("/staff/").status_code == 303


@pytest.mark.parametrize("change", ["disable", "set_role", "reset_password"])
def test_account_changes_end_open_sessions(
    client: FlaskClient, make_staff: MakeStaff, change: str, actor: str
) -> None:
    from licensing.extensions import db
    from licensing.services import staff as accounts

    staff = make_staff("analyst")
    sign_in(client, "analyst@example.org")
    assert client.get("/staff/").status_code == 200
    if change == "disable":
        accounts.disable_staff(db.session(), staff, actor=actor)
    elif change == "set_role":
        accounts.set_role(db.session(), staff, "viewer", actor=actor)
    else:
        accounts.reset_password(db.session(), staff, "a brand new passphrase", actor=actor)
    db.session.commit()

    assert client.get("/staff/").status_code == 303


def test_the_session_cookie_is_http_only_same_site_and_scoped(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    make_staff()
    response = sign_in(client, "viewer@example.org")
    cookie = response.headers["Set-Cookie"]
    assert "HttpOnly" in cookie and "SameSite=Lax" in cookie and "Path=/staff" in cookie
    assert "Secure" not in cookie  # the tests turn it off, as local HTTP must


def _alert(response) -> str:  # type: ignore[no-untyped-def]
    text: str = response.get_data(as_text=True)
    start = text.index('role="alert">') + len('role="alert">')
    return text[start : text.index("</p>", start)]


def _clock(monkeypatch: pytest.MonkeyPatch, moment) -> None:  # type: ignore[no-untyped-def]
    monkeypatch.setattr(auth, "_now", lambda: moment)
