"""The legal holds pages (admin): the holds in force with reviews due, the released ones,
placing a hold (also from a license's page), and releasing one, directly or, under four
eyes, by a request a second admin approves on the Approvals page."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import ApprovalRequest, Customer, HoldScope, LegalHold, License, StaffUser
from licensing.services import legal_holds
from licensing.timeutil import utcnow
from tests.factories import latest_event, make_license
from tests.functional.cli.misuse_helpers import open_case
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in

MATTER = "Smith v. Example Ltd"
REASON = "litigation notice received from counsel"
RELEASE = "the claim was settled in full"


@pytest.fixture
def license(session: Session, sealer: Sealer) -> License:
    license = make_license(session, sealer).license
    session.commit()
    return license


def _hold(session: Session, license: License, *, review_in: int = 90) -> LegalHold:
    hold = legal_holds.place(
        session,
        scope=HoldScope.LICENSE,
        license=license,
        matter=MATTER,
        reason=REASON,
        review_on=utcnow().date() + timedelta(days=review_in),
        actor="test:pytest",
        now=utcnow(),
    )
    session.commit()
    return hold


def _admin(client: FlaskClient, make_staff: MakeStaff, email: str = "admin@example.org") -> None:
    make_staff("admin", email)
    sign_in(client, email)


def _holds(session: Session) -> list[LegalHold]:
    session.expire_all()
    return list(session.scalars(select(LegalHold)))


def test_only_admins_see_the_pages_and_the_nav_link(
    client: FlaskClient, session: Session, make_staff: MakeStaff, license: License
) -> None:
    hold = _hold(session, license)
    make_staff("analyst")
    sign_in(client, "analyst@example.org")
    assert "Legal holds" not in client.get("/staff/").get_data(as_text=True)
    assert client.get("/staff/holds").status_code == 403
    assert client.get(f"/staff/holds/{hold.id}").status_code == 403
    token = csrf_token(client.get("/staff/"))
    refused = client.post(f"/staff/holds/{hold.id}/release",
                          data={"reason": RELEASE, "csrf_token": token})  # fmt: skip
    assert refused.status_code == 403
    assert _holds(session)[0].released_at is None


def test_the_list_shows_holds_in_force_marks_reviews_due_and_tabs_released(
    client: FlaskClient, session: Session, make_staff: MakeStaff, sealer: Sealer
) -> None:
    due = _hold(session, make_license(session, sealer).license, review_in=1)
    later = _hold(session, make_license(session, sealer).license, review_in=60)
    gone = _hold(session, make_license(session, sealer).license)
    legal_holds.release(session, gone, reason=RELEASE, actor="x", now=utcnow(), four_eyes=False)
    due.review_on = utcnow().date()  # its review date has come
    session.commit()
    _admin(client, make_staff)

    home = client.get("/staff/").get_data(as_text=True)
    assert 'href="/staff/holds">Legal holds</a>' in home
    body = client.get("/staff/holds").get_data(as_text=True)
    assert f'id="hold-{due.id}" class="review-due"' in body
    assert f'id="hold-{later.id}">' in body and f"hold-{gone.id}" not in body
    assert body.count("review due</strong>") == 1
    released = client.get("/staff/holds?show=released").get_data(as_text=True)
    assert f"hold-{gone.id}" in released and f"hold-{due.id}" not in released


def test_placing_a_hold_from_the_license_page(
    client: FlaskClient, session: Session, make_staff: MakeStaff, license: License
) -> None:
    _admin(client, make_staff)
    license_page = client.get(f"/staff/licenses/{license.id}").get_data(as_text=True)
    link = re.search(r'<a id="place-hold" href="([^"]+)"', license_page)
    assert link is not None
    form = client.get(link.group(1).replace("&amp;", "&"))
    assert f'value="{license.key_id}"' in form.get_data(as_text=True)

    placed = client.post(
        "/staff/holds/place",
        data={
            "scope": "license",
            "subject": license.key_id,
            "matter": MATTER,
            "reason": REASON,
            "review_on": (utcnow().date() + timedelta(days=30)).isoformat(),
            "csrf_token": csrf_token(form),
        },
    )
    assert placed.status_code == 303
    [hold] = _holds(session)
    assert placed.headers["Location"].endswith(f"/staff/holds/{hold.id}")
    assert (hold.license_id, hold.matter, hold.reason) == (license.id, MATTER, REASON)
    page = client.get(placed.headers["Location"]).get_data(as_text=True)
    assert "Legal hold placed." in page and MATTER in page and str(hold.id) in page
    assert latest_event(session).action == "legal_hold.placed"


def test_placing_on_a_customer_and_refusals_keep_what_was_typed(
    client: FlaskClient, session: Session, make_staff: MakeStaff, license: License
) -> None:
    _admin(client, make_staff)
    customer = session.get_one(Customer, license.customer_id)
    page = client.get("/staff/holds")
    fields = {
        "scope": "customer",
        "subject": "nobody@example.org",
        "matter": MATTER,
        "reason": REASON,
        "review_on": (utcnow().date() + timedelta(days=30)).isoformat(),
        "csrf_token": csrf_token(page),
    }
    unknown = client.post("/staff/holds/place", data=fields)
    assert unknown.status_code == 400
    text = unknown.get_data(as_text=True)
    assert "Not done: no customer" in text and MATTER in text  # the form is filled in again
    past = client.post("/staff/holds/place", data={**fields, "review_on": "2000-01-01"})
    assert past.status_code == 400 and "after today" in past.get_data(as_text=True)
    short = client.post("/staff/holds/place", data={**fields, "reason": "short"})
    assert short.status_code == 400 and "Not done: reason" in short.get_data(as_text=True)
    assert _holds(session) == []
    no_token = client.post("/staff/holds/place", data={**fields, "csrf_token": ""})
    assert no_token.status_code in (400, 403)

    done = client.post("/staff/holds/place", data={**fields, "subject": customer.email})
    assert done.status_code == 303
    [hold] = _holds(session)
    assert (hold.scope, hold.customer_id, hold.license_id) == ("customer", customer.id, None)


def test_releasing_a_hold_without_four_eyes(
    client: FlaskClient, session: Session, make_staff: MakeStaff, license: License
) -> None:
    hold = _hold(session, license)
    _admin(client, make_staff)
    page = client.get(f"/staff/holds/{hold.id}")
    body = page.get_data(as_text=True)
    assert "Release the hold" in body and REASON in body
    short = client.post(f"/staff/holds/{hold.id}/release",
                        data={"reason": "no", "csrf_token": csrf_token(page)},
                        follow_redirects=True)  # fmt: skip
    assert "Not done: reason: field must be between 10 and 1000" in short.get_data(as_text=True)
    assert _holds(session)[0].released_at is None
    done = client.post(f"/staff/holds/{hold.id}/release",
                       data={"reason": RELEASE, "csrf_token": csrf_token(page)},
                       follow_redirects=True)  # fmt: skip
    text = done.get_data(as_text=True)
    assert "Legal hold released." in text and RELEASE in text and 'id="release-form"' not in text
    [released] = _holds(session)
    assert released.released_at is not None and released.release_reason == RELEASE
    assert client.get("/staff/holds/not-a-hold").status_code == 404


@pytest.fixture
def console(four_eyes_app: Flask) -> FlaskClient:
    return four_eyes_app.test_client()


def test_under_four_eyes_a_release_is_a_request_another_admin_approves(
    console: FlaskClient, session: Session, make_staff: MakeStaff, license: License
) -> None:
    hold = _hold(session, license)
    asker: StaffUser = make_staff("admin", "asker@example.org")
    second: StaffUser = make_staff("admin", "second@example.org")
    sign_in(console, "asker@example.org")
    page = console.get(f"/staff/holds/{hold.id}")
    assert "Ask a second admin to release" in page.get_data(as_text=True)
    asked = console.post(f"/staff/holds/{hold.id}/release",
                         data={"reason": RELEASE, "csrf_token": csrf_token(page)},
                         follow_redirects=True)  # fmt: skip
    text = asked.get_data(as_text=True)
    assert "Release requested" in text and 'id="pending-release"' in text
    assert _holds(session)[0].released_at is None
    request = session.scalars(select(ApprovalRequest)).one()
    assert (request.action, request.subject_id) == ("legal_hold.release", hold.id)

    # The asker may only withdraw; a forged approval is refused.
    mine = console.get("/staff/approvals")
    body = mine.get_data(as_text=True)
    assert f"/staff/holds/{hold.id}" in body and f"legal hold: {MATTER}" in body
    assert "Approve and release" not in body
    forged = console.post(f"/staff/approvals/{request.id}/approve",
                          data={"note": "", "csrf_token": csrf_token(mine)},
                          follow_redirects=True)  # fmt: skip
    assert "Not done: a request must be approved by another admin" in forged.get_data(as_text=True)
    assert _holds(session)[0].released_at is None

    console.post("/staff/logout", data={"csrf_token": csrf_token(mine)})
    sign_in(console, "second@example.org")
    theirs = console.get("/staff/approvals")
    assert "Approve and release" in theirs.get_data(as_text=True)
    approved = console.post(f"/staff/approvals/{request.id}/approve",
                            data={"note": "checked", "csrf_token": csrf_token(theirs)},
                            follow_redirects=True)  # fmt: skip
    assert "Approved: the legal hold is released." in approved.get_data(as_text=True)
    [released] = _holds(session)
    assert released.released_by == f"staff:{second.id}"
    event = latest_event(session)
    assert event.action == "legal_hold.released"
    assert event.data["requested_by"] == f"staff:{asker.id}"


def test_confirming_a_case_flashes_the_hold_it_placed(
    client: FlaskClient, session: Session, make_staff: MakeStaff, license: License
) -> None:
    case = open_case(session, license)
    session.commit()
    make_staff("analyst")
    sign_in(client, "analyst@example.org")
    page = client.get(f"/staff/misuse/{case.id}")
    done = client.post(f"/staff/misuse/{case.id}/confirm",
                       data={"text": "four servers, one seat", "csrf_token": csrf_token(page)},
                       follow_redirects=True)  # fmt: skip
    [hold] = _holds(session)
    text = done.get_data(as_text=True)
    assert f"A legal hold ({hold.id}) now keeps the case" in text
    assert "Case confirmed" in text


def test_the_license_page_names_the_holds_that_keep_it(
    client: FlaskClient, session: Session, sealer: Sealer, make_staff: MakeStaff, license: License
) -> None:
    _admin(client, make_staff)
    assert 'id="legal-holds"' not in client.get(f"/staff/licenses/{license.id}").get_data(
        as_text=True
    )
    on_license = _hold(session, license)
    on_customer = legal_holds.place(
        session,
        scope=HoldScope.CUSTOMER,
        customer=license.customer,
        matter=MATTER,
        reason=REASON,
        review_on=utcnow().date() + timedelta(days=30),
        actor="test:pytest",
        now=utcnow(),
    )
    other = make_license(session, sealer).license
    _hold(session, other)

    page = client.get(f"/staff/licenses/{license.id}").get_data(as_text=True)

    assert "kept under 2 legal holds" in page
    for hold in (on_license, on_customer):
        assert f'href="/staff/holds/{hold.id}"' in page
    assert MATTER not in page  # the matter stays on the hold's own page
