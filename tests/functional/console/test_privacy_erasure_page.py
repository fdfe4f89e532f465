"""The erasure page: an admin sees the plan (counts, what is kept and why, holds), must
tick a confirmation, and then sees the report; nobody else may open it."""

from __future__ import annotations

from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import Customer, PrivacyRequest
from licensing.services import privacy_requests
from licensing.storage import erasure_scrub
from licensing.storage.erasure_scrub import ScrubResult
from tests.erasure_seed import Seeded, erasure_request, place_hold, seed_customer
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in
from tests.functional.console.test_page_structure import _outline


@pytest.fixture
def subject(session: Session, sealer: Sealer) -> Seeded:
    seeded = seed_customer(session, sealer, tag="page")
    session.commit()
    return seeded


@pytest.fixture
def request_(session: Session, subject: Seeded) -> PrivacyRequest:
    request = erasure_request(session, subject.customer)
    session.commit()
    return request


@pytest.fixture
def scrubs(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, ...]]:
    """Calls of the scrub, which the console leaves to `licensing privacy scrub`."""
    calls: list[tuple[str, ...]] = []

    def scrub(_engine: Any, tables: Any) -> ScrubResult:
        calls.append(tuple(tables))
        return ScrubResult("test", tuple(tables), 0.5, complete=True)

    monkeypatch.setattr(erasure_scrub, "scrub", scrub)
    return calls


def _url(request: PrivacyRequest) -> str:
    return f"/staff/privacy/requests/{request.id}/erasure"


def test_the_plan_shows_counts_what_is_kept_and_the_holds(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    subject: Seeded,
    request_: PrivacyRequest,
) -> None:
    hold = place_hold(session, license=subject.licenses[0])
    session.commit()
    sign_in(client, make_staff("admin").email)
    body = client.get(_url(request_)).get_data(as_text=True)
    assert "<code>usage_observations</code></td><td>deleted</td><td>2</td>" in body
    assert "<code>disclosures</code></td><td>1</td>" in body and "Art. 5(2)" in body
    assert hold.matter in body
    assert 'name="confirm"' in body
    # The plan shows counts and ids, not the personal data it erases.
    for value in (subject.email, subject.name, *subject.servers):
        assert value not in body


def test_erasing_needs_the_box_ticked(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    subject: Seeded,
    request_: PrivacyRequest,
    scrubs: list[tuple[str, ...]],
) -> None:
    sign_in(client, make_staff("admin").email)
    page = client.get(_url(request_))
    refused = client.post(_url(request_), data={"csrf_token": csrf_token(page)})
    assert refused.status_code == 400
    assert "tick the box" in refused.get_data(as_text=True)
    session.expire_all()
    assert session.get(Customer, subject.customer.id).anonymised_at is None  # type: ignore[union-attr]
    assert scrubs == []


def test_erasing_shows_the_report_completes_the_request_and_leaves_the_scrub(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    subject: Seeded,
    request_: PrivacyRequest,
    scrubs: list[tuple[str, ...]],
) -> None:
    sign_in(client, make_staff("admin").email)
    page = client.get(_url(request_))
    done = client.post(_url(request_), data={"csrf_token": csrf_token(page), "confirm": "y"})
    body = done.get_data(as_text=True)
    assert done.status_code == 200, body
    assert "<h1>Erased</h1>" in body and "licensing privacy scrub" in body
    assert "<code>usage_observations</code></td><td>deleted</td><td>4</td>" in body
    session.expire_all()
    assert session.get(Customer, subject.customer.id).anonymised_at is not None  # type: ignore[union-attr]
    assert privacy_requests.get(session, request_.id).status == "completed"
    assert scrubs == []  # a web request holds no table lock for a minute

    # The request is closed now: the page says so and offers no erasure.
    again = client.get(_url(request_)).get_data(as_text=True)
    assert "completed" in again and 'name="confirm"' not in again


def test_only_admins_may_open_it_and_an_unknown_request_is_not_found(
    client: FlaskClient, make_staff: MakeStaff, request_: PrivacyRequest
) -> None:
    sign_in(client, make_staff("analyst").email)
    assert client.get(_url(request_)).status_code == 403
    client.post("/staff/logout")
    admin = make_staff("admin")
    client2 = client.application.test_client()
    sign_in(client2, admin.email)
    unknown = "/staff/privacy/requests/00000000-0000-0000-0000-000000000000/erasure"
    assert client2.get(unknown).status_code == 404


def test_the_page_is_structured_like_every_console_page(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    subject: Seeded,
    request_: PrivacyRequest,
) -> None:
    place_hold(session, license=subject.licenses[0])
    session.commit()
    sign_in(client, make_staff("admin").email)
    outline = _outline(client, _url(request_))
    assert outline.unlabelled() == []
    assert outline.tables_outside_scroll == 0
    assert outline.first_link is not None and outline.first_link.get("href") == "#main"
