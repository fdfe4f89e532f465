"""The audit log page: newest first, filters, pages, and the chain's verification."""

from __future__ import annotations

from datetime import UTC, datetime

from flask.testing import FlaskClient
from sqlalchemy import update
from sqlalchemy.orm import Session

from licensing.console.views.audit import PAGE_SIZE
from licensing.models import AuditEvent
from licensing.services import audit
from tests.functional.console.conftest import MakeStaff, sign_in


def _record(session: Session, number: int, **fields: str) -> AuditEvent:
    event = audit.record(
        session,
        actor=fields.get("actor", "cli:ops"),
        action=fields.get("action", "license.renewed"),
        subject_type="license",
        subject_id=fields.get("subject", f"lic-{number}"),
        data={"number": number},
        now=datetime.fromisoformat(fields.get("at", "2026-11-20T10:00:00")).replace(tzinfo=UTC),
    )
    session.commit()
    return event


def _viewer(client: FlaskClient, make_staff: MakeStaff) -> None:
    make_staff()
    sign_in(client, "viewer@example.org")


def _subjects(client: FlaskClient, query: str = "") -> list[str]:
    text = client.get("/staff/audit" + query).get_data(as_text=True)
    return [part.split("<")[0] for part in text.split("<td>license:")[1:]]


def test_a_viewer_sees_events_newest_first(
    client: FlaskClient, make_staff: MakeStaff, session: Session
) -> None:
    _viewer(client, make_staff)
    for number in (1, 2, 3):
        _record(session, number)
    response = client.get("/staff/audit")
    assert response.status_code == 200
    assert _subjects(client) == ["lic-3", "lic-2", "lic-1"]
    assert 'href="/staff/audit"' in client.get("/staff/").get_data(as_text=True)


def test_the_page_needs_a_signed_in_staff_member(client: FlaskClient) -> None:
    response = client.get("/staff/audit")
    assert response.status_code == 303
    assert "/staff/login" in response.headers["Location"]


def test_filters_by_actor_action_subject_and_since(
    client: FlaskClient, make_staff: MakeStaff, session: Session
) -> None:
    _viewer(client, make_staff)
    _record(session, 1, actor="cli:ada", at="2026-11-01T09:00:00")
    _record(session, 2, action="license.suspended", at="2026-11-10T09:00:00")
    _record(session, 3, subject="lic-special", at="2026-11-20T09:00:00")
    assert _subjects(client, "?actor=cli:ada") == ["lic-1"]
    assert _subjects(client, "?action=license.suspended") == ["lic-2"]
    assert _subjects(client, "?subject=lic-special") == ["lic-special"]
    assert _subjects(client, "?since=2026-11-10") == ["lic-special", "lic-2"]
    assert _subjects(client, "?actor=cli:ada&action=license.suspended") == []
    assert "No events match." in client.get("/staff/audit?actor=nobody").get_data(as_text=True)


def test_a_since_that_is_no_date_is_refused_in_one_line(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    _viewer(client, make_staff)
    response = client.get("/staff/audit?since=yesterday")
    assert response.status_code == 400
    assert "must be a date" in response.get_data(as_text=True)


def test_pages_go_back_through_the_log(
    client: FlaskClient, make_staff: MakeStaff, session: Session
) -> None:
    _viewer(client, make_staff)
    for number in range(PAGE_SIZE + 5):
        _record(session, number, action="test.paged")
    first = _subjects(client, "?action=test.paged")
    assert len(first) == PAGE_SIZE
    assert first[0] == f"lic-{PAGE_SIZE + 4}"
    text = client.get("/staff/audit?action=test.paged").get_data(as_text=True)
    older = text.split('rel="next" href="')[1].split('"')[0].replace("&amp;", "&")
    assert "action=test.paged" in older
    second = _subjects(client, older.removeprefix("/staff/audit"))
    assert second == [f"lic-{n}" for n in range(4, -1, -1)]
    assert 'rel="next"' not in client.get(older).get_data(as_text=True)


def test_the_chain_is_verified_on_demand_and_shows_intact(
    client: FlaskClient, make_staff: MakeStaff, session: Session
) -> None:
    _viewer(client, make_staff)
    for number in (1, 2, 3):
        _record(session, number)
    unverified = client.get("/staff/audit").get_data(as_text=True)
    assert "Verify the chain" in unverified
    assert 'id="chain-status"' not in unverified
    verified = client.get("/staff/audit?verify=1").get_data(as_text=True)
    assert "Intact:" in verified
    assert f"{audit.count(session)} events verified" in verified


def test_an_altered_event_shows_a_broken_chain(
    client: FlaskClient, make_staff: MakeStaff, session: Session
) -> None:
    _viewer(client, make_staff)
    altered = _record(session, 1).seq
    _record(session, 2)
    session.execute(update(AuditEvent).where(AuditEvent.seq == altered).values(data={"n": 9}))
    session.commit()
    session.expire_all()
    text = client.get("/staff/audit?verify=1").get_data(as_text=True)
    assert "Intact" not in text
    assert f"Broken at event {altered}" in text
    assert f"event {altered} was altered after it was written" in text
