"""The docs page renders the OpenAPI document in a real browser, without any external network.

Chromium (Debian's ``/usr/bin/chromium``, driven by Playwright) opens ``/docs/`` of a
real ``licensing serve``. Every request the page makes is routed: the server's own origin
goes through, anything else is aborted and recorded, and the test fails on any record.

The page is opened twice: at ``127.0.0.1``, and at a host name that is not a loopback
address (mapped to ``127.0.0.1`` inside Chromium only). Swagger UI behaves differently
on loopback: it leaves out things it would load from elsewhere on a deployed host (its
online validator badge), so only the second visit shows what a reader of the deployed
docs page gets.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from tests.browser.chromium import Visit, chromium, origin
from tests.live import LiveServer, live_server

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

# A host name that is not loopback: Chromium alone resolves it, to the live server.
DEPLOYED_HOST = "licensing.example"
RENDER_TIMEOUT_MS = 30_000
EXPECTED_PATHS = (
    "/v1/partner/license-checks",
    "/v1/instance/check-ins",
    "/v1/instance/activations",
    "/healthz",
)

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("LICENSING_TEST_DATABASE_URL", "").strip()),
    reason="ran in the SQLite pass: the browser test serves its own SQLite database "
    "and never touches the test database, so the PostgreSQL pass would only repeat it",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium(f"--host-resolver-rules=MAP {DEPLOYED_HOST} 127.0.0.1") as launched:
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    with live_server(tmp_path_factory.mktemp("docs-live"), workers=1) as running:
        yield running


def open_docs(browser: Browser, base_url: str, screenshot: Path) -> tuple[Visit, Page]:
    """Open ``/docs/`` at ``base_url``, let only its origin through, wait for the rendering."""
    visit = Visit(origin=origin(base_url))
    context = browser.new_context(service_workers="block")
    context.route("**/*", visit.route)
    page = context.new_page()
    page.on("request", visit.request)
    page.on("console", visit.console)
    page.on("pageerror", visit.page_error)
    response = page.goto(base_url + "/docs/", wait_until="load", timeout=RENDER_TIMEOUT_MS)
    assert response is not None
    assert response.status == 200, response.status
    page.wait_for_selector(".opblock-summary-path", timeout=RENDER_TIMEOUT_MS)
    page.wait_for_selector(".info .title", timeout=RENDER_TIMEOUT_MS)
    page.wait_for_load_state("networkidle", timeout=RENDER_TIMEOUT_MS)
    page.screenshot(path=str(screenshot), full_page=True)
    return visit, page


def assert_rendered(visit: Visit, page: Page, base_url: str) -> None:
    title = page.inner_text(".info .title")
    assert title.startswith("Licensing"), title
    listed = page.locator(".opblock-summary-path").all_inner_texts()
    listed = [path.replace("\u200b", "").strip() for path in listed]
    for path in EXPECTED_PATHS:
        assert path in listed, (path, listed)
    assert base_url + "/openapi.json" in visit.allowed, visit.allowed
    assert visit.external == [], f"the docs page reached outside its server: {visit.external}"
    assert visit.errors == [], visit.errors


def test_docs_page_renders_on_loopback_without_external_requests(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    visit, page = open_docs(browser, server.base_url, tmp_path / "docs.png")
    try:
        assert_rendered(visit, page, server.base_url)
    finally:
        page.context.close()


def test_docs_page_renders_on_a_deployed_host_without_external_requests(
    browser: Browser, server: LiveServer, tmp_path: Path
) -> None:
    base_url = server.base_url.replace("127.0.0.1", DEPLOYED_HOST)
    visit, page = open_docs(browser, base_url, tmp_path / "docs-deployed.png")
    try:
        assert_rendered(visit, page, base_url)
    finally:
        page.context.close()
