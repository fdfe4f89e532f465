"""The privacy pages (admin): requests listed open first with overdue ones marked, one
recorded from the form, its subject found and named, and each kind served."""

from __future__ import annotations

import io
import uuid
import zipfile
from datetime import timedelta

import pytest
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import PrivacyRequest, PrivacyRequestKind, StaffUser
from licensing.services import anonymisation, privacy_requests
from licensing.timeutil import utcnow
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in
from tests.unit.services.subject_seeding import VERIFIED, Subject, seed_subject


@pytest.fixture
def admin(client: FlaskClient, make_staff: MakeStaff) -> StaffUser:
    staff = make_staff("admin")
    sign_in(client, "admin@example.org")
    return staff


@pytest.fixture
def ada(session: Session, sealer: Sealer) -> Subject:
    subject = seed_subject(
        session, sealer, name="Ada Console", ip="198.51.100.7", server_name="mx.ada.example"
    )
    session.commit()
    return subject


def _request(
    session: Session, kind: PrivacyRequestKind, subject: Subject | None, *, days_ago: int = 2
) -> PrivacyRequest:
    now = utcnow()
    request = privacy_requests.record(
        session,
        kind=kind,
        customer_id=subject.customer.id if subject else None,
        received_at=now - timedelta(days=days_ago),
        identity_verification=VERIFIED,
        actor="test:pytest",
        now=now,
    )
    session.commit()
    return request


def _post(client: FlaskClient, page: str, action: str, **data: str) -> str:
    token = csrf_token(client.get(page))
    response = client.post(action, data={"csrf_token": token, **data}, follow_redirects=True)
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _page(request: PrivacyRequest) -> str:
    return f"/staff/privacy/requests/{request.id}"


def test_only_admins_see_the_privacy_pages(client: FlaskClient, make_staff: MakeStaff) -> None:
    make_staff("analyst")
    sign_in(client, "analyst@example.org")
    assert client.get("/staff/privacy").status_code == 403
    assert 'href="/staff/privacy"' not in client.get("/staff/").get_data(as_text=True)


def test_the_list_shows_open_first_overdue_marked_closed_below(
    client: FlaskClient, session: Session, admin: StaffUser, ada: Subject
) -> None:
    late = _request(session, PrivacyRequestKind.ACCESS, ada, days_ago=40)
    fresh = _request(session, PrivacyRequestKind.OBJECTION, ada)
    closed = _request(session, PrivacyRequestKind.ERASURE, ada)
    privacy_requests.refuse(
        session, closed, reason="manifestly unfounded", actor="t:t", now=utcnow()
    )
    session.commit()

    body = client.get("/staff/privacy").get_data(as_text=True)
    open_part, _, closed_part = body.partition('id="closed-requests"')
    assert str(late.id)[:8] in open_part and str(fresh.id)[:8] in open_part
    assert open_part.index(str(late.id)[:8]) < open_part.index(str(fresh.id)[:8])
    assert open_part.count("overdue</strong>") == 1
    assert str(closed.id)[:8] in closed_part and "manifestly unfounded" in closed_part
    assert 'href="/staff/privacy"' in client.get("/staff/").get_data(as_text=True)


def test_record_search_name_the_subject_and_download_the_export(
    client: FlaskClient, session: Session, admin: StaffUser, ada: Subject
) -> None:
    body = _post(
        client,
        "/staff/privacy",
        "/staff/privacy/requests",
        kind="access",
        customer="",
        received="",
        verified=VERIFIED,
    )
    assert "Recorded; due" in body
    request = session.scalars(
        select(PrivacyRequest).where(PrivacyRequest.customer_id.is_(None))
    ).one()
    assert request.customer_id is None and request.recorded_by == f"staff:{admin.id}"

    found = client.get(_page(request) + f"?q={ada.server_name}").get_data(as_text=True)
    assert ada.customer.email in found and "activations: 1" in found
    body = _post(client, _page(request), _page(request) + "/subject", customer=str(ada.customer.id))
    assert "The data subject is named" in body and "Download the export" in body

    token = csrf_token(client.get(_page(request)))
    download = client.post(_page(request) + "/export", data={"csrf_token": token})
    assert (download.status_code, download.mimetype) == (200, "application/zip")
    with zipfile.ZipFile(io.BytesIO(download.get_data())) as archive:
        assert "usage_observations.csv" in archive.namelist()
    session.expire_all()
    assert session.get(PrivacyRequest, request.id).status == "completed"  # type: ignore[union-attr]


def test_bad_input_records_nothing(client: FlaskClient, session: Session, admin: StaffUser) -> None:
    body = _post(
        client,
        "/staff/privacy",
        "/staff/privacy/requests",
        kind="access",
        customer="nobody@example.com",
        verified=VERIFIED,
    )
    assert "Not recorded" in body
    body = _post(client, "/staff/privacy", "/staff/privacy/requests", kind="access", verified="x")
    assert "Not recorded" in body
    assert session.scalars(select(PrivacyRequest)).all() == []
    assert client.get(f"/staff/privacy/requests/{uuid.uuid4()}").status_code == 404
    assert client.get("/staff/privacy/requests/not-an-id").status_code == 404


def test_rectify_then_the_partners_to_notify(
    client: FlaskClient, session: Session, admin: StaffUser, ada: Subject
) -> None:
    request = _request(session, PrivacyRequestKind.RECTIFICATION, ada)
    body = _post(
        client,
        _page(request),
        _page(request) + "/rectify",
        name="Ada Lovelace",
        email=ada.customer.email,
        company=ada.customer.company or "",
        **{f"server_name-{ada.activation.id}": "mail.ada.example"},
    )
    assert "Rectified" in body
    assert ada.partner.name in body.partition("Partners to notify")[2]
    session.expire_all()
    assert ada.customer.name == "Ada Lovelace"
    assert ada.activation.server_name == "mail.ada.example"
    assert "rectified fields: name; server names: 1" in (request.outcome or "")


def test_rectify_refuses_an_anonymised_customer(
    client: FlaskClient, session: Session, admin: StaffUser, ada: Subject
) -> None:
    request = _request(session, PrivacyRequestKind.RECTIFICATION, ada)
    anonymisation.anonymise_customer(session, ada.customer, now=utcnow())
    session.commit()
    body = _post(
        client, _page(request), _page(request) + "/rectify", name="Ada Lovelace", company=""
    )
    assert "anonymised on" in body and "nothing to rectify" in body
    session.expire_all()
    assert ada.customer.name == anonymisation.ANONYMISED_NAME
    assert request.status == "open"


def test_restrict_then_lift(
    client: FlaskClient, session: Session, admin: StaffUser, ada: Subject
) -> None:
    restrict = _request(session, PrivacyRequestKind.RESTRICTION, ada)
    assert "Processing is restricted" in _post(
        client, _page(restrict), _page(restrict) + "/restrict"
    )
    session.expire_all()
    assert ada.license.processing_restricted
    lift = _request(session, PrivacyRequestKind.LIFT_RESTRICTION, ada)
    # The wrong action for the kind is refused, and changes nothing.
    assert "Not done" in _post(client, _page(lift), _page(lift) + "/restrict")
    assert "restriction is lifted" in _post(client, _page(lift), _page(lift) + "/lift")
    session.expire_all()
    assert not ada.license.processing_restricted


def test_erasure_links_to_its_page_and_a_request_can_be_refused(
    client: FlaskClient, session: Session, admin: StaffUser, ada: Subject
) -> None:
    request = _request(session, PrivacyRequestKind.ERASURE, ada)
    body = client.get(_page(request)).get_data(as_text=True)
    assert f'href="/staff/privacy/requests/{request.id}/erasure"' in body

    body = _post(client, _page(request), _page(request) + "/refuse", reason="identity unproven")
    assert "The request is refused" in body and "identity unproven" in body
    session.expire_all()
    assert request.status == "refused"
