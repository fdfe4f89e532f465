"""Debian's Chromium driven by Playwright, and a record of what a page asked for.

Shared by the browser tests: every request a page makes is routed; the server's own
origin goes through, anything else is aborted and recorded, so a test can fail on it.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, NoReturn
from urllib.parse import urlsplit

import pytest

if TYPE_CHECKING:
    from playwright.sync_api import Browser, ConsoleMessage, Error, Request, Route

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    # Without these Chromium calls Google on its own (and is refused here).
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]


def unavailable(reason: str) -> NoReturn:
    """No browser here: a failure on CI (which installs one), a skip elsewhere."""
    if os.environ.get("CI"):
        pytest.fail(f"{reason} (CI installs it: .ci/run)", pytrace=False)
    pytest.skip(reason)


@contextmanager
def chromium(*extra_args: str) -> Iterator[Browser]:
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    if not CHROMIUM.is_file():
        unavailable(f"no Chromium at {CHROMIUM} (apt-get install chromium)")
    with sync_playwright() as playwright:
        launched = playwright.chromium.launch(
            executable_path=str(CHROMIUM), args=[*CHROMIUM_ARGS, *extra_args]
        )
        try:
            yield launched
        finally:
            launched.close()


@dataclass
class Visit:
    """What a page did: requests let through, requests refused, errors it reported."""

    origin: str
    allowed: list[str] = field(default_factory=list)
    external: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def route(self, route: Route) -> None:
        url = route.request.url
        if origin(url) == self.origin:
            self.allowed.append(url)
            route.continue_()
        else:
            if url not in self.external:
                self.external.append(url)
            route.abort("blockedbyclient")

    def request(self, request: Request) -> None:
        # Belt and braces: a request the router did not see (it should see them all).
        url = request.url
        web = urlsplit(url).scheme in {"http", "https", "ws", "wss"}
        if web and origin(url) != self.origin and url not in self.external:
            self.external.append(url)

    def console(self, message: ConsoleMessage) -> None:
        if message.type == "error":
            self.errors.append(f"console: {message.text} ({message.location})")

    def page_error(self, error: Error) -> None:
        self.errors.append(f"page error: {error}")


def origin(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}"
