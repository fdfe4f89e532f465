"""The console with a keyboard, on a phone-sized screen and on a laptop's, in Chromium.

The first Tab reaches "Skip to content", shown only then; every focusable control shows
a focus ring; at 375 px wide no page scrolls sideways (wide tables scroll in their own
box, charts shrink), and at 1280 px neither.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import pytest

from tests.browser import test_console
from tests.browser.chromium import Visit, chromium, origin
from tests.browser.test_console import TIMEOUT_MS, add_staff, assert_kept_home, sign_in
from tests.live import LiveServer, live_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

pytestmark = test_console.pytestmark  # the SQLite pass only, as the sign-in tests

PAGES = ("/staff/", "/staff/misuse", "/staff/audit", "/staff/login")
PHONE = {"width": 375, "height": 740}
LAPTOP = {"width": 1280, "height": 800}


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"LICENSING_CONSOLE_SECURE_COOKIE": "false"}
    with live_server(tmp_path_factory.mktemp("console-layout"), workers=1, env=env) as running:
        yield running


def _open(browser: Browser, server: LiveServer, viewport: dict[str, int]) -> tuple[Visit, Page]:
    visit = Visit(origin=origin(server.base_url))
    context = browser.new_context(service_workers="block", viewport=viewport)  # type: ignore[arg-type]
    context.route("**/*", visit.route)
    page = context.new_page()
    page.on("console", visit.console)
    page.on("pageerror", visit.page_error)
    return visit, page


def _page_width(page: Page) -> int:
    width: int = page.evaluate("document.documentElement.scrollWidth")
    return width


@pytest.mark.parametrize("viewport", [PHONE, LAPTOP], ids=["phone", "laptop"])
def test_no_page_scrolls_sideways(
    browser: Browser, server: LiveServer, viewport: dict[str, int]
) -> None:
    email = f"layout-{viewport['width']}@example.org"
    staff = add_staff(server, email, "admin")
    visit, page = _open(browser, server, viewport)
    try:
        sign_in(page, server, email, staff["password"])
        for path in PAGES[:-1]:
            page.goto(server.base_url + path, wait_until="load", timeout=TIMEOUT_MS)
            assert _page_width(page) <= viewport["width"], path
        # The dashboard's charts are drawn 600 wide: on a phone they shrink to fit.
        page.goto(server.base_url + "/staff/", wait_until="load", timeout=TIMEOUT_MS)
        chart = page.locator("#check-ins svg").bounding_box()
        assert chart is not None and chart["width"] <= viewport["width"]
        # The audit log's table (the account just made is an event) scrolls in its box.
        page.goto(server.base_url + "/staff/audit", wait_until="load", timeout=TIMEOUT_MS)
        overflow = page.eval_on_selector(".table-scroll", "e => getComputedStyle(e).overflowX")
        assert overflow == "auto"
        assert_kept_home(visit)
    finally:
        page.context.close()


def test_the_first_tab_reaches_the_skip_link_and_focus_shows(
    browser: Browser, server: LiveServer
) -> None:
    staff = add_staff(server, "keys@example.org", "analyst")
    visit, page = _open(browser, server, PHONE)
    try:
        sign_in(page, server, "keys@example.org", staff["password"])
        page.goto(server.base_url + "/staff/misuse", wait_until="load", timeout=TIMEOUT_MS)
        hidden = page.locator(".skip-link").bounding_box()
        assert hidden is not None and hidden["y"] + hidden["height"] <= 0  # off screen
        page.keyboard.press("Tab")
        focused = page.evaluate(
            "[document.activeElement.className, document.activeElement.getAttribute('href')]"
        )
        assert focused == ["skip-link", "#main"]
        shown = page.locator(".skip-link").bounding_box()
        assert shown is not None and shown["y"] >= 0  # shown while focused
        assert _focus_ring(page) == "solid"
        # Following it skips the masthead: the next Tab is the first control of the page.
        page.keyboard.press("Enter")
        assert page.url.endswith("#main")
        page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.name") == "rule"
        assert _focus_ring(page) == "solid"
        for _ in range(4):  # severity, status, assignee, then the Filter button
            page.keyboard.press("Tab")
        assert page.evaluate("document.activeElement.tagName") == "BUTTON"
        assert _focus_ring(page) == "solid"
        assert_kept_home(visit)
    finally:
        page.context.close()


def _focus_ring(page: Page) -> str:
    style: str = page.evaluate("getComputedStyle(document.activeElement).outlineStyle")
    return style
