"""The staff console in a real browser: sign in and out, lockout, CSP, no outside origin.

Chromium opens the console of a real ``licensing serve`` (plain HTTP, so the session
cookie's Secure flag is turned off as local HTTP must). Every request the pages make
is routed: the server's own origin goes through, anything else is aborted and
recorded, and each test fails on any record, and on any error the page reports (a
Content-Security-Policy violation is one).
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest

from licensing.console.security import CONTENT_SECURITY_POLICY
from tests.browser.chromium import Visit, chromium, origin
from tests.live import LiveServer, live_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

TIMEOUT_MS = 30_000
FAILURES = 3  # the lockout threshold the server below runs with

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("LICENSING_TEST_DATABASE_URL", "").strip()),
    reason="ran in the SQLite pass: the browser test serves its own SQLite database "
    "and never touches the test database, so the PostgreSQL pass would only repeat it",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {
        "LICENSING_CONSOLE_SECURE_COOKIE": "false",
        "LICENSING_STAFF_LOCKOUT_FAILURES": str(FAILURES),
    }
    with live_server(tmp_path_factory.mktemp("console-live"), workers=1, env=env) as running:
        yield running


def add_staff(server: LiveServer, email: str, role: str) -> dict[str, Any]:
    """An account made as an operator makes one; its generated password is in the record."""
    record: dict[str, Any] = json.loads(
        server.cli("staff", "add", email, "--name", role.title(), "--role", role, "--json")
    )
    return record


def open_page(browser: Browser, server: LiveServer) -> tuple[Visit, Page]:
    visit = Visit(origin=origin(server.base_url))
    context = browser.new_context(service_workers="block")
    context.route("**/*", visit.route)
    page = context.new_page()
    page.on("request", visit.request)
    page.on("console", visit.console)
    page.on("pageerror", visit.page_error)
    return visit, page


def sign_in(page: Page, server: LiveServer, email: str, password: str) -> Any:
    page.goto(server.base_url + "/staff/", wait_until="load", timeout=TIMEOUT_MS)
    page.fill("#email", email)
    page.fill("#password", password)
    with page.expect_navigation(timeout=TIMEOUT_MS) as navigation:
        page.click("button[type=submit]")
    return navigation.value


def assert_kept_home(visit: Visit) -> None:
    assert visit.allowed, "the page made no request at all"
    assert visit.external == [], f"the console reached outside its server: {visit.external}"
    assert visit.errors == [], visit.errors


def test_sign_in_see_the_landing_page_and_sign_out(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    staff = add_staff(server, "ada@example.org", "analyst")
    visit, page = open_page(browser, server)
    try:
        response = sign_in(page, server, "ada@example.org", staff["password"])

        assert response is not None and response.status == 200
        assert page.url == server.base_url + "/staff/"
        assert page.inner_text("#staff-email") == "ada@example.org"
        assert page.inner_text("#staff-role") == "analyst"
        assert response.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        assert response.headers["x-content-type-options"] == "nosniff"
        assert response.headers["referrer-policy"] == "same-origin"
        # The stylesheet came from the console's own static folder, and applied.
        assert server.base_url + "/staff/static/console.css" in visit.allowed
        colour = page.eval_on_selector(".masthead", "e => getComputedStyle(e).backgroundColor")
        assert colour == "rgb(28, 35, 48)", colour
        cookie = next(c for c in page.context.cookies() if c["name"] == "licensing_staff")
        assert cookie["httpOnly"] and cookie["sameSite"] == "Lax" and cookie["path"] == "/staff"
        page.screenshot(path=str(tmp_path / "console-home.png"), full_page=True)

        with page.expect_navigation(timeout=TIMEOUT_MS):
            page.click("text=Sign out")
        assert page.url == server.base_url + "/staff/login"
        assert "You have signed out." in page.inner_text("main")
        page.goto(server.base_url + "/staff/", wait_until="load", timeout=TIMEOUT_MS)
        assert page.url.startswith(server.base_url + "/staff/login")
        assert_kept_home(visit)
    finally:
        page.context.close()


def test_lockout_after_repeated_bad_passwords(browser: Browser, server: LiveServer) -> None:
    staff = add_staff(server, "bob@example.org", "viewer")
    visit, page = open_page(browser, server)
    try:
        messages = []
        for _ in range(FAILURES):
            response = sign_in(page, server, "bob@example.org", "not the password at all")
            assert response is not None and response.status == 200
            messages.append(page.inner_text("[role=alert]"))
        # Locked: the right password is refused with the very same message.
        response = sign_in(page, server, "bob@example.org", staff["password"])
        assert response is not None and response.status == 200
        assert page.inner_text("[role=alert]") == messages[0]
        assert len(set(messages)) == 1
        # ... the same an address without any account gets.
        sign_in(page, server, "nobody@example.org", "not the password at all")
        assert page.inner_text("[role=alert]") == messages[0]
        (listed,) = (
            s
            for s in json.loads(server.cli("staff", "list", "--json"))
            if s["email"] == "bob@example.org"
        )
        assert listed["state"] == "locked"
        assert_kept_home(visit)
    finally:
        page.context.close()


def test_a_post_without_the_csrf_token_is_refused(browser: Browser, server: LiveServer) -> None:
    staff = add_staff(server, "cy@example.org", "admin")
    visit, page = open_page(browser, server)
    try:
        sign_in(page, server, "cy@example.org", staff["password"])
        # The browser's own cookie, a forged form with no token: refused, still signed in.
        forged = page.context.request.post(server.base_url + "/staff/logout", form={})
        assert forged.status == 400
        assert "did not come from this site" in forged.text()
        assert forged.headers["content-security-policy"] == CONTENT_SECURITY_POLICY
        page.goto(server.base_url + "/staff/", wait_until="load", timeout=TIMEOUT_MS)
        assert page.inner_text("#staff-role") == "admin"
        assert_kept_home(visit)
    finally:
        page.context.close()
