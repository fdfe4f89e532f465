"""The search page: every kind of query finds the license, and bad queries are messages."""

from __future__ import annotations

import json
import logging
import re

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.console.views import search as search_views
from licensing.crypto.sealing import Sealer
from licensing.models import AuditEvent
from tests.functional.console.conftest import MakeStaff, sign_in
from tests.functional.console.license_seeding import (
    IP,
    NETWORK,
    OLD_IP,
    OLD_NETWORK,
    OLD_SERVER,
    SERVER,
    Seeded,
    seed,
)


@pytest.fixture
def seeded(session: Session, sealer: Sealer) -> Seeded:
    return seed(session, sealer)


@pytest.fixture
def viewer(client: FlaskClient, make_staff: MakeStaff) -> FlaskClient:
    make_staff("viewer")
    sign_in(client, "viewer@example.org")
    return client


@pytest.fixture
def analyst(client: FlaskClient, make_staff: MakeStaff) -> FlaskClient:
    make_staff("analyst")
    sign_in(client, "analyst@example.org")
    return client


def _hits(text: str) -> str:
    found = re.search(r'<table[^>]*id="hits"[^>]*>(.*?)</table>', text, re.S)
    assert found, text
    return found.group(1)


def _search(client: FlaskClient, query: str, status: int = 200) -> str:
    response = client.get("/staff/search", query_string={"q": query})
    assert response.status_code == status, response.get_data(as_text=True)
    return response.get_data(as_text=True)


@pytest.mark.parametrize(
    ("query", "matched"),
    [
        ("key_id", "key id"),
        ("key", "key id"),
        ("email", "customer email"),
        (IP, "ip"),
        (NETWORK, "network"),
        (SERVER, "server name"),
        (SERVER.upper(), "server name"),
        (OLD_IP, "ip"),  # pseudonymised: found by its keyed hash
        (OLD_NETWORK, "network"),
        (OLD_SERVER, "server name"),
        ("Ada Console", "customer name"),
    ],
)
def test_each_kind_of_query_finds_the_license(
    analyst: FlaskClient,
    seeded: Seeded,
    session: Session,
    sealer: Sealer,
    query: str,
    matched: str,
) -> None:
    other = seed(session, sealer, name="Someone Else")  # a license that must not be found
    if query == "key_id":
        query = seeded.license.key_id
    elif query == "key":
        query = seeded.key
    elif query == "email":
        query = seeded.license.customer.email.upper()
    text = _search(analyst, query)
    hits = _hits(text)
    assert f'href="/staff/licenses/{seeded.license.id}"' in hits
    assert seeded.license.key_id in hits and f"…{seeded.license.key_hint}" in hits
    assert "Ada Console" in hits and matched in hits and "active" in hits
    if matched in ("key id", "customer email", "customer name"):
        assert other.license.key_id not in hits
    assert 'id="search-terms"' in text and matched in text


def test_no_match_is_an_empty_state(analyst: FlaskClient, seeded: Seeded) -> None:
    text = _search(analyst, "192.0.2.77")
    assert 'id="no-hits"' in text and "No license matches." in text
    assert 'id="hits"' not in text
    assert "ip <code>192.0.2.77</code>" in text  # how the query was read


@pytest.mark.parametrize(
    ("query", "message"),
    [
        ("   ", "the search query is empty"),
        ("x" * 321, "longer than 320 characters"),
        ("10.0.0.0/16", "by its /24 prefix"),
        ("AAAAA-AAAAA-AAAAA-AAAAA-AAAAA", "Cannot search for that"),
    ],
)
def test_an_unusable_query_is_a_message(viewer: FlaskClient, query: str, message: str) -> None:
    text = _search(viewer, query, status=400)
    assert 'id="search-problem"' in text and message in text


def test_the_page_without_a_query_shows_the_box(viewer: FlaskClient) -> None:
    text = _search(viewer, "x")  # a name search: no match
    assert 'id="no-hits"' in text
    bare = viewer.get("/staff/search")
    body = bare.get_data(as_text=True)
    assert bare.status_code == 200 and 'name="q"' in body
    assert 'id="search-problem"' not in body and 'id="no-hits"' not in body


def test_more_results_than_shown_says_so(
    viewer: FlaskClient, session: Session, sealer: Sealer, monkeypatch: pytest.MonkeyPatch
) -> None:
    seed(session, sealer, name="Twin Customer A")
    seed(session, sealer, name="Twin Customer B")
    monkeypatch.setattr(search_views, "RESULTS_SHOWN", 1)
    text = _search(viewer, "Twin Customer")
    assert 'id="search-truncated"' in text
    assert _hits(text).count("/staff/licenses/") == 1
    monkeypatch.setattr(search_views, "RESULTS_SHOWN", 5)
    assert 'id="search-truncated"' not in _search(viewer, "Twin Customer")


def test_every_page_has_the_search_box_in_its_masthead(viewer: FlaskClient) -> None:
    for path in ("/staff/", "/staff/misuse", "/staff/audit"):
        text = viewer.get(path).get_data(as_text=True)
        masthead = text.split("</header>")[0]
        assert 'action="/staff/search"' in masthead and 'method="get"' in masthead


def test_the_query_is_not_logged(
    analyst: FlaskClient, seeded: Seeded, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.DEBUG):
        _search(analyst, IP)
        _search(analyst, SERVER)
    logged = "\n".join(f"{record.getMessage()} {record.__dict__}" for record in caplog.records)
    assert caplog.records  # the request was logged, without the query
    assert IP not in logged and SERVER not in logged


def test_signing_in_is_required(client: FlaskClient) -> None:
    response = client.get("/staff/search", query_string={"q": IP})
    assert response.status_code == 303 and "/staff/login" in response.headers["Location"]


def test_the_sign_in_page_has_no_search_box(client: FlaskClient) -> None:
    text = client.get("/staff/login").get_data(as_text=True)
    assert 'action="/staff/search"' not in text and text.count('type="submit"') == 1


def _usage_searches(session: Session) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(select(AuditEvent).where(AuditEvent.action == "staff.searched_usage"))
    )


@pytest.mark.parametrize("query", [IP, SERVER, OLD_IP, OLD_SERVER])
def test_a_viewer_cannot_find_a_license_by_ip_or_server_name(
    viewer: FlaskClient, seeded: Seeded, session: Session, query: str
) -> None:
    text = _search(viewer, query)
    assert f"/staff/licenses/{seeded.license.id}" not in text
    assert 'id="search-withheld"' in text and "needs an analyst" in text
    assert _usage_searches(session) == []


def test_a_viewer_still_finds_a_license_by_network(viewer: FlaskClient, seeded: Seeded) -> None:
    text = _search(viewer, NETWORK)
    assert f'href="/staff/licenses/{seeded.license.id}"' in _hits(text)
    assert 'id="search-withheld"' not in text


def test_an_analysts_usage_search_is_audited_without_the_value(
    analyst: FlaskClient, seeded: Seeded, session: Session
) -> None:
    assert f"/staff/licenses/{seeded.license.id}" in _hits(_search(analyst, IP))
    assert 'id="search-withheld"' not in _search(analyst, SERVER)
    events = _usage_searches(session)
    assert len(events) == 2
    assert events[0].data["readings"] == ["ip"] and events[0].data["hits"] == 1
    stored = json.dumps([[e.data, e.subject_id, e.actor] for e in events])
    assert IP not in stored and SERVER not in stored and SERVER.split(".")[0] not in stored
    _search(analyst, NETWORK)
    assert len(_usage_searches(session)) == 2  # a network reading is not audited
