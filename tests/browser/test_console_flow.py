"""The console's whole misuse flow in a real browser, against a real ``licensing serve``.

Signed check-ins arrive through a trusted proxy from seven networks; the misuse scan
opens a case. An admin signs in, finds the license by its key id, opens it and its case,
reveals the raw addresses for a reason (audited), confirms the case and suspends the
license; the license's next signed check-in answers ``SUSPENDED``. A viewer sees no
action and a viewer's forged POST is refused. Screenshots of the dashboard, the license
page and the case page are written to ``$LICENSING_CONSOLE_SCREENSHOTS`` when it is set
(docs/console.md shows them), else to the test's temporary folder.
"""

from __future__ import annotations

import json
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
import requests

from tests.browser.chromium import chromium
from tests.browser.test_console import TIMEOUT_MS, add_staff, assert_kept_home, open_page, sign_in
from tests.live import LiveAnswer, LiveServer, live_server
from tests.signing import Credentials, json_body, sign, verify_response

if TYPE_CHECKING:
    from playwright.sync_api import Browser, Page

ACTIVATIONS, CHECK_INS = "/v1/instance/activations", "/v1/instance/check-ins"
# Six /24 networks and one /48: more than the default network_spread_networks (5).
SITES = [f"203.0.{n}.7" for n in range(1, 7)] + ["2001:db8:42::7"]
SERVER = "mail01.example.com"
FINGERPRINT = "fp-console-flow-0001"
PHONE = {"width": 375, "height": 800}

pytestmark = pytest.mark.skipif(
    bool(os.environ.get("LICENSING_TEST_DATABASE_URL", "").strip()),
    reason="ran in the SQLite pass: the browser test serves its own SQLite database",
)


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with chromium() as launched:
        yield launched


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiveServer]:
    env = {"LICENSING_CONSOLE_SECURE_COOKIE": "false", "LICENSING_TRUSTED_PROXY_HOPS": "1"}
    with live_server(tmp_path_factory.mktemp("console-flow"), workers=1, env=env) as running:
        yield running


@pytest.fixture(scope="module")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    chosen = os.environ.get("LICENSING_CONSOLE_SCREENSHOTS", "").strip()
    folder = Path(chosen) if chosen else tmp_path_factory.mktemp("screenshots")
    folder.mkdir(parents=True, exist_ok=True)
    return folder


def from_site(server: LiveServer, license: dict[str, Any], path: str, site: str) -> LiveAnswer:
    """A signed call of the license's instance, forwarded by the proxy for ``site``."""
    body = {"fingerprint": FINGERPRINT, "server_name": SERVER, "product_version": "2.1.0"}
    if path == ACTIVATIONS:
        body["product"] = license["product"]
    raw = json_body(body)
    credentials = Credentials.from_license_key(license["license_key"])
    signed = sign(credentials, "POST", path, raw, base_url=server.base_url)
    response = requests.post(
        server.base_url + path,
        data=raw,
        headers={**signed.headers, "X-Forwarded-For": site},
        timeout=30,
    )
    verified = verify_response(
        response.status_code,
        list(response.headers.items()),
        response.content,
        server.jwks(),
        nonce=signed.nonce,
    )
    return LiveAnswer(response.status_code, verified.body, signed)


@pytest.fixture(scope="module")
def planted(server: LiveServer) -> dict[str, Any]:
    """The demo license used from seven networks, and the case the scan opened for it."""
    license = server.licenses[0]
    activated = from_site(server, license, ACTIVATIONS, SITES[0])
    assert activated.status == 201, json.dumps(activated.body)
    for site in SITES:
        answer = from_site(server, license, CHECK_INS, site)
        assert (answer.status, answer.code) == (200, "VALID")
    json.loads(server.cli("misuse", "scan", "--json"))
    server.cli("jobs", "run", "--only", "usage-rollup")  # the dashboard's daily figures
    cases = json.loads(server.cli("misuse", "cases", "--license", license["key_id"], "--json"))
    (case,) = (c for c in cases if c["rule"] == "NETWORK_SPREAD")
    return {"license": license, "case": case}


def go(page: Page, url: str) -> None:
    response = page.goto(url, wait_until="load", timeout=TIMEOUT_MS)
    assert response is not None and response.status == 200, url


def submit(page: Page, form: str) -> None:
    with page.expect_navigation(timeout=TIMEOUT_MS):
        page.click(f"{form} button[type=submit]")


def test_find_reveal_confirm_and_suspend(
    browser: Browser, server: LiveServer, planted: dict[str, Any], shots: Path
) -> None:
    license, case = planted["license"], planted["case"]
    staff = add_staff(server, "grace@example.org", "admin")
    visit, page = open_page(browser, server)
    try:
        sign_in(page, server, "grace@example.org", staff["password"])
        page.screenshot(path=str(shots / "console-dashboard.png"), full_page=True)

        # Find the license by its key id from the search box every page carries.
        page.fill("header input[name=q]", license["key_id"])
        with page.expect_navigation(timeout=TIMEOUT_MS):
            page.press("header input[name=q]", "Enter")
        assert license["key_id"] in page.inner_text("main")
        with page.expect_navigation(timeout=TIMEOUT_MS):
            page.click(f"main a[href$='/staff/licenses/{license['id']}']")
        body = page.inner_text("main")
        # Masked by default: the network and the server's label, never the raw values.
        assert "203.0.1.0/24" in body
        assert all(site not in body for site in SITES) and SERVER not in body
        page.screenshot(path=str(shots / "console-license.png"), full_page=True)

        with page.expect_navigation(timeout=TIMEOUT_MS):
            page.click(f"main a[href$='/staff/misuse/{case['id']}']")
        assert page.inner_text("#case-status") == "open"
        assert "203.0.6.0/24" in page.inner_text("#evidence")
        assert all(site not in page.content() for site in SITES)
        page.screenshot(path=str(shots / "console-case.png"), full_page=True)

        # Reveal, for a reason: the raw addresses show on this response only.
        page.fill("#reveal-form textarea[name=reason]", "checking the seven sites of the case")
        submit(page, "#reveal-form")
        revealed = page.inner_text("#revealed")
        assert all(site in revealed for site in SITES) and SERVER in revealed
        page.locator("#revealed").screenshot(path=str(shots / "console-case-revealed.png"))
        go(page, f"{server.base_url}/staff/misuse/{case['id']}")
        assert all(site not in page.content() for site in SITES)
        go(page, f"{server.base_url}/staff/audit?action=personal_data.revealed")
        assert license["id"] in page.inner_text("main")

        go(page, f"{server.base_url}/staff/misuse/{case['id']}")
        suspend = "form[action$='/confirm-suspend']"
        page.fill(f"{suspend} textarea[name=text]", "used at seven sites with one seat")
        submit(page, suspend)
        assert page.inner_text("#case-status") == "confirmed"
        assert "suspended" in page.inner_text("main").lower()

        answer = from_site(server, license, CHECK_INS, SITES[0])
        assert answer.code == "SUSPENDED" and answer.body["valid"] is False
        assert_kept_home(visit)
    finally:
        page.context.close()


def test_a_viewer_sees_no_action_and_a_forged_post_is_refused(
    browser: Browser, server: LiveServer, planted: dict[str, Any]
) -> None:
    case = planted["case"]
    staff = add_staff(server, "vic@example.org", "viewer")
    visit, page = open_page(browser, server)
    try:
        sign_in(page, server, "vic@example.org", staff["password"])
        # A valid token of this very session (the sign-out form's), for the forged forms.
        token = page.get_attribute("input[name=csrf_token]", "value")
        assert token
        go(page, f"{server.base_url}/staff/misuse/{case['id']}")
        assert page.locator("main form").count() == 0
        assert page.locator("#reveal-form").count() == 0
        for action in ("confirm", "reveal"):
            forged = page.context.request.post(
                f"{server.base_url}/staff/misuse/{case['id']}/{action}",
                form={"csrf_token": token, "text": "x" * 20, "reason": "x" * 20},
            )
            assert forged.status == 403, action
        cases = json.loads(server.cli("misuse", "cases", "--json"))
        assert next(c for c in cases if c["id"] == case["id"])["status"] in {"open", "confirmed"}
        assert_kept_home(visit)
    finally:
        page.context.close()


def test_keyboard_first_stop_is_the_skip_link_and_a_phone_has_no_sideways_scroll(
    browser: Browser, server: LiveServer, planted: dict[str, Any]
) -> None:
    license = planted["license"]
    staff = add_staff(server, "kim@example.org", "analyst")
    visit, page = open_page(browser, server)
    try:
        sign_in(page, server, "kim@example.org", staff["password"])
        page.set_viewport_size(PHONE)
        for path in ("/staff/", f"/staff/licenses/{license['id']}", "/staff/misuse"):
            go(page, server.base_url + path)
            page.keyboard.press("Tab")
            focused = page.evaluate("document.activeElement.getAttribute('href')")
            assert focused == "#main", path
            wide = page.evaluate("document.documentElement.scrollWidth")
            assert wide <= PHONE["width"], (path, wide)
        assert_kept_home(visit)
    finally:
        page.context.close()
