"""What every console page offers a keyboard and a small screen, read from its HTML.

The pages are taken from the URL map (every console page reached with no path
argument) plus the ones that need one, so a page added later is checked too.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta
from html.parser import HTMLParser

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from licensing.models import HoldScope, PrivacyRequest, PrivacyRequestKind
from licensing.services import legal_holds, privacy_requests
from licensing.timeutil import utcnow
from tests.factories import make_customer
from tests.functional.cli.misuse_helpers import open_case
from tests.functional.conftest import MakeLicensed
from tests.functional.console.conftest import MakeStaff, sign_in

# Input types that are not filled in by a person, so need no label of their own.
_UNLABELLED_INPUTS = frozenset({"hidden", "submit", "button", "reset", "image"})


@dataclass
class Control:
    tag: str
    id: str | None
    name: str | None
    in_label: bool


@dataclass
class PageOutline(HTMLParser):
    """The facts of one page the tests below look at; nothing else of it is kept."""

    first_link: dict[str, str | None] | None = None
    main_ids: list[str | None] = field(default_factory=list)
    controls: list[Control] = field(default_factory=list)
    label_targets: set[str] = field(default_factory=set)
    tables_outside_scroll: int = 0
    _in_body: bool = False
    _labels_open: int = 0
    _scroll_depth: list[bool] = field(default_factory=list)

    def __post_init__(self) -> None:
        super().__init__(convert_charrefs=True)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        attributes = dict(attrs)
        if tag == "body":
            self._in_body = True
        elif tag == "a" and self._in_body and self.first_link is None:
            self.first_link = attributes
        elif tag == "main":
            self.main_ids.append(attributes.get("id"))
        elif tag == "label":
            self._labels_open += 1
            if attributes.get("for"):
                self.label_targets.add(str(attributes["for"]))
        elif tag == "div":
            self._scroll_depth.append("table-scroll" in (attributes.get("class") or "").split())
        elif tag == "table" and not any(self._scroll_depth):
            self.tables_outside_scroll += 1
        if tag in ("select", "textarea") or (
            tag == "input" and (attributes.get("type") or "text") not in _UNLABELLED_INPUTS
        ):
            self.controls.append(
                Control(tag, attributes.get("id"), attributes.get("name"), self._labels_open > 0)
            )

    def handle_endtag(self, tag: str) -> None:
        if tag == "label":
            self._labels_open -= 1
        elif tag == "div" and self._scroll_depth:
            self._scroll_depth.pop()

    def unlabelled(self) -> list[Control]:
        return [c for c in self.controls if not c.in_label and c.id not in self.label_targets]


def _outline(client: FlaskClient, url: str) -> PageOutline:
    response = client.get(url)
    assert response.status_code == 200, url
    outline = PageOutline()
    outline.feed(response.get_data(as_text=True))
    outline.close()
    return outline


def _console_pages(app: Flask) -> list[str]:
    """Each console page that takes no path argument, as the URL map has it."""
    return sorted(
        rule.rule
        for rule in app.url_map.iter_rules()
        if rule.endpoint.startswith("console.")
        and rule.endpoint != "console.static"
        and "GET" in (rule.methods or ())
        and not rule.arguments
        and rule.endpoint != "console.sign_in"  # signed in, it redirects home
    )


@pytest.fixture
def pages(
    app: Flask,
    client: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    make_licensed: MakeLicensed,
) -> dict[str, PageOutline]:
    """Every page as an admin sees it (the most controls), and the sign-in page."""
    case = open_case(session, make_licensed().license)
    privacy, privacy_email = _privacy_request(session)
    hold = legal_holds.place(
        session,
        scope=HoldScope.LICENSE,
        license=make_licensed().license,
        matter="A legal matter",
        reason="kept for a legal claim",
        review_on=utcnow().date() + timedelta(days=30),
        actor="test:pytest",
        now=utcnow(),
    )
    session.commit()
    outlines = {"/staff/login": _outline(client, "/staff/login")}
    make_staff("admin")
    sign_in(client, "admin@example.org")
    for url in [
        *_console_pages(app),
        f"/staff/misuse/{case.id}",
        "/staff/misuse?status=open",
        f"/staff/privacy/requests/{privacy.id}?q={privacy_email}",
        f"/staff/holds/{hold.id}",
        "/staff/holds?show=released",
    ]:
        outlines[url] = _outline(client, url)
    return outlines


def _privacy_request(session: Session) -> tuple[PrivacyRequest, str]:
    """A rectification request with its subject: the page shows the search and the form."""
    customer = make_customer(session)
    request = privacy_requests.record(
        session,
        kind=PrivacyRequestKind.RECTIFICATION,
        customer_id=customer.id,
        received_at=utcnow(),
        identity_verification="reply from the licensed e-mail address",
        actor="test:pytest",
        now=utcnow(),
    )
    return request, customer.email


def test_the_pages_checked_include_the_known_ones(pages: dict[str, PageOutline]) -> None:
    for url in (
        "/staff/",
        "/staff/misuse",
        "/staff/audit",
        "/staff/login",
        "/staff/privacy",
        "/staff/holds",
    ):
        assert url in pages, sorted(pages)


def test_the_skip_link_is_the_first_link_of_every_page(pages: dict[str, PageOutline]) -> None:
    for url, outline in pages.items():
        assert outline.first_link is not None, url
        assert outline.first_link.get("href") == "#main", (url, outline.first_link)
        assert "skip-link" in (outline.first_link.get("class") or ""), url
        assert outline.main_ids == ["main"], url


def test_every_form_control_has_a_label(pages: dict[str, PageOutline]) -> None:
    for url, outline in pages.items():
        assert outline.unlabelled() == [], url
    # The check looks at real controls: the case page's action forms and the filters.
    case_page = next(url for url in pages if re.fullmatch(r"/staff/misuse/[0-9a-f-]{36}", url))
    assert any(c.tag == "textarea" for c in pages[case_page].controls)
    assert any(c.tag == "select" for c in pages["/staff/misuse"].controls)


def test_every_table_scrolls_inside_its_own_box(pages: dict[str, PageOutline]) -> None:
    for url, outline in pages.items():
        assert outline.tables_outside_scroll == 0, url


def test_the_outline_finds_an_unlabelled_control() -> None:
    outline = PageOutline()
    outline.feed(
        '<body><a href="/x">first</a><label for="a">A</label><input id="a">'
        "<label>B <select name=b></select></label><textarea name=c></textarea>"
        '<input type="hidden" name="csrf_token"><table></table></body>'
    )
    assert [c.name for c in outline.unlabelled()] == ["c"]
    assert outline.first_link == {"href": "/x"}
    assert outline.tables_outside_scroll == 1


def test_the_stylesheet_shows_the_skip_link_and_focus_and_scrolls_tables(
    client: FlaskClient,
) -> None:
    response = client.get("/staff/static/console.css")
    css = response.get_data(as_text=True)
    response.close()  # a static file is sent from an open file
    assert ".skip-link:focus" in css
    assert "select:focus-visible" in css and "textarea:focus-visible" in css
    assert ".table-scroll { max-width: 100%; overflow-x: auto; }" in css
    assert "@media (max-width: 40rem)" in css
