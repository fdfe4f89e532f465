"""The license page: what it shows (masked), what each role may do, and how few queries."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer, hash_period
from licensing.extensions import db
from licensing.models import Activation, AuditEvent, License, StaffUser
from licensing.privacy.masking import server_label
from licensing.privacy.pseudonymise import server_name_hash
from licensing.services import seats
from licensing.timeutil import utcnow
from tests.factories import make_license
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in
from tests.functional.console.license_seeding import (
    EMAIL,
    IP,
    NETWORK,
    OLD_IP,
    OLD_NETWORK,
    OLD_SERVER,
    SERVER,
    Seeded,
    seat,
    seed,
)


@pytest.fixture
def seeded(session: Session, sealer: Sealer) -> Seeded:
    return seed(session, sealer)


def _as(client: FlaskClient, make_staff: MakeStaff, role: str) -> StaffUser:
    staff = make_staff(role)
    sign_in(client, f"{role}@example.org")
    return staff


def _page(client: FlaskClient, license: License) -> str:
    response = client.get(f"/staff/licenses/{license.id}")
    assert response.status_code == 200
    return response.get_data(as_text=True)


def _section(text: str, element_id: str) -> str:
    """The content of the element with that id (up to its tag's first closing tag)."""
    found = re.search(rf'<(\w+)[^>]*\bid="{element_id}"[^>]*>(.*?)</\1>', text, re.S)
    assert found, element_id
    return found.group(2)


def _has_chart(html: str) -> bool:
    return re.search(r'<svg[^>]*\brole="img"', html) is not None


def _events(session: Session, license: License) -> list[AuditEvent]:
    session.expire_all()
    return list(
        session.scalars(
            select(AuditEvent)
            .where(AuditEvent.subject_id == str(license.id))
            .order_by(AuditEvent.seq)
        )
    )


def test_a_viewer_sees_the_license_its_usage_and_its_history(
    client: FlaskClient, make_staff: MakeStaff, seeded: Seeded, sealer: Sealer, session: Session
) -> None:
    _as(client, make_staff, "viewer")
    text = _page(client, seeded.license)
    facts = _section(text, "license-facts")
    assert seeded.license.key_id in facts and seeded.license.key_hint in facts
    assert _section(text, "license-status") == "active"
    assert "Ada Console" in facts and "2 in use" not in facts
    assert "1 in use of 1 allowed" in _section(text, "license-seats")
    # The page counts seats from the activations it lists; the check-in path counts them
    # in SQL (services/seats.in_use): the two must agree.
    assert f"{seats.in_use(session, seeded.license.id)} in use" in _section(text, "license-seats")
    activations = _section(text, "activations")
    assert str(seeded.live.id)[:8] in activations and str(seeded.released.id)[:8] in activations
    assert "migration" in activations and "linux-x86_64" in activations
    assert _has_chart(_section(text, "usage-timeline"))
    # Two check-ins today from one server and network; the older day only within 90 days.
    servers_30, servers_90 = _section(text, "servers-30"), _section(text, "servers-90")
    OLD_PERIOD = hash_period((utcnow() - timedelta(days=45)).date())  # noqa: N806 (seeding)
    assert (
        server_label(server_name_hash(sealer, SERVER, period=hash_period(utcnow().date())))
        in servers_30
    )
    assert server_label(server_name_hash(sealer, OLD_SERVER, period=OLD_PERIOD)) not in servers_30
    assert server_label(server_name_hash(sealer, OLD_SERVER, period=OLD_PERIOD)) in servers_90
    assert "<td>2</td>" in servers_30 and "<td>5</td>" in servers_90
    assert NETWORK in _section(text, "networks-30")
    assert OLD_NETWORK not in _section(text, "networks-30")
    assert OLD_NETWORK in _section(text, "networks-90")
    assert 'id="servers-30-count">1<' in text and 'id="servers-90-count">2<' in text
    cases = _section(text, "license-cases")
    assert f"/staff/misuse/{seeded.case.id}" in cases and "SERVER_SPREAD" in cases
    assert "Hosting Partner GmbH" in _section(text, "disclosures")
    assert "license.issued" in _section(text, "license-events")


def test_the_page_shows_no_raw_address_server_name_email_or_key(
    client: FlaskClient, make_staff: MakeStaff, seeded: Seeded, sealer: Sealer
) -> None:
    _as(client, make_staff, "viewer")
    text = _page(client, seeded.license)
    for raw in (SERVER, OLD_SERVER, IP, OLD_IP, seeded.key, EMAIL.lower()):
        assert raw not in text and raw.lower() not in text.lower(), raw
    email = _section(text, "customer-email")
    assert re.fullmatch(r"\w\*\*\*@example\.org", email, re.I), email
    assert server_label(
        server_name_hash(sealer, SERVER, period=hash_period(utcnow().date()))
    ) in _section(text, "activations")


@pytest.mark.parametrize("reference", ["not-a-uuid", "00000000-0000-0000-0000-000000000000"])
def test_an_unknown_or_malformed_license_is_404(
    client: FlaskClient, make_staff: MakeStaff, reference: str
) -> None:
    _as(client, make_staff, "viewer")
    assert client.get(f"/staff/licenses/{reference}").status_code == 404


def test_a_license_without_usage_shows_empty_states(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    license = make_license(session, sealer).license
    session.commit()
    _as(client, make_staff, "viewer")
    text = _page(client, license)
    assert 'id="no-activations"' in text and 'id="no-cases"' in text
    assert 'id="no-disclosures"' in text and _has_chart(text)
    assert "never (perpetual)" in text


@pytest.mark.parametrize("role", ["viewer", "analyst"])
@pytest.mark.parametrize(
    "action", ["suspend", "reinstate", "revoke", "release-seat", "renew", "extend"]
)
def test_below_admin_there_are_no_actions_and_a_forged_post_is_refused(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    seeded: Seeded,
    role: str,
    action: str,
) -> None:
    _as(client, make_staff, role)
    page = client.get(f"/staff/licenses/{seeded.license.id}")
    body = page.get_data(as_text=True)
    # No admin action (an analyst may still see the reveal form, which is not one).
    verbs = ("suspend", "reinstate", "revoke", "release-seat", "renew", "extend")
    assert not any(f"/staff/licenses/{seeded.license.id}/{v}" in body for v in verbs)
    assert "Suspend" not in body
    before = len(_events(session, seeded.license))
    token = csrf_token(client.get("/staff/"))  # a valid token: the sign-out form's
    forged = client.post(
        f"/staff/licenses/{seeded.license.id}/{action}",
        data={
            "reason": "x",
            "activation": str(seeded.live.id),
            "months": "12",
            "days": "30",
            "csrf_token": token,
        },
    )
    assert forged.status_code == 403
    events = _events(session, seeded.license)
    assert len(events) == before
    license = session.get(License, seeded.license.id)
    assert license is not None and license.status == "active"
    live = session.get(Activation, seeded.live.id)
    assert live is not None and live.status == "active"


def _shown_current(body: str, license: License, action: str) -> str | None:
    """The date the page's form for ``action`` carries in its hidden ``current`` field."""
    form = re.search(
        rf'action="/staff/licenses/{license.id}/{action}".*?</form>', body, flags=re.DOTALL
    )
    found = (
        re.search(r'name="current" type="hidden" value="([^"]*)"', form.group(0)) if form else None
    )
    return found.group(1) if found else None


def _post(client: FlaskClient, license: License, action: str, **data: str) -> str:
    page = client.get(f"/staff/licenses/{license.id}")
    body = page.get_data(as_text=True)
    assert 'class="action"' in body
    shown = _shown_current(body, license, action)
    if shown is not None and "current" not in data:
        data = {**data, "current": shown}
    done = client.post(
        f"/staff/licenses/{license.id}/{action}",
        data={**data, "csrf_token": csrf_token(page)},
    )
    assert done.status_code == 303
    assert done.headers["Location"].endswith(f"/staff/licenses/{license.id}")
    return client.get(done.headers["Location"]).get_data(as_text=True)


def test_an_admin_suspends_reinstates_and_revokes(
    client: FlaskClient, make_staff: MakeStaff, session: Session, seeded: Seeded
) -> None:
    admin = _as(client, make_staff, "admin")
    license = seeded.license
    shown = _post(client, license, "suspend", reason="payment overdue")
    assert "License suspended." in shown
    assert "suspended" in _section(shown, "license-status") and "payment overdue" in shown
    last = _events(session, license)[-1]
    assert (last.action, last.actor) == ("license.suspended", f"staff:{admin.id}")
    assert last.data["reason"] == "payment overdue"

    assert "License reinstated." in _post(client, license, "reinstate", reason="paid")
    assert _events(session, license)[-1].action == "license.reinstated"

    assert "License revoked." in _post(client, license, "revoke", reason="fraud")
    session.expire_all()
    assert session.get(License, license.id).status == "revoked"  # type: ignore[union-attr]
    last = _events(session, license)[-1]
    assert (last.action, last.actor) == ("license.revoked", f"staff:{admin.id}")


def test_a_refused_transition_is_a_message_and_changes_nothing(
    client: FlaskClient, make_staff: MakeStaff, session: Session, seeded: Seeded
) -> None:
    _as(client, make_staff, "admin")
    before = len(_events(session, seeded.license))
    shown = _post(client, seeded.license, "reinstate", reason="not suspended")
    assert "Not done: cannot reinstate a license that is active." in shown
    assert len(_events(session, seeded.license)) == before


@pytest.mark.parametrize(
    ("action", "data", "message"),
    [
        ("suspend", {"reason": ""}, "Not done: reason: this field is required."),
        ("renew", {"months": "many"}, "Not done: months:"),
        ("renew", {"months": "0"}, "Not done: months:"),
        ("extend", {"days": "99999"}, "Not done: days:"),
        ("release-seat", {"activation": "nope", "reason": "gone"}, "Not done: license"),
    ],
)
def test_bad_input_is_a_message_not_an_error(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    seeded: Seeded,
    action: str,
    data: dict[str, str],
    message: str,
) -> None:
    _as(client, make_staff, "admin")
    before = len(_events(session, seeded.license))
    assert message in _post(client, seeded.license, action, **data)
    assert len(_events(session, seeded.license)) == before


def test_an_admin_releases_a_seat(
    client: FlaskClient, make_staff: MakeStaff, session: Session, seeded: Seeded
) -> None:
    admin = _as(client, make_staff, "admin")
    page = client.get(f"/staff/licenses/{seeded.license.id}").get_data(as_text=True)
    # Only the live activation offers its seat: one release form.
    assert page.count('name="activation"') == 1
    shown = _post(
        client,
        seeded.license,
        "release-seat",
        activation=str(seeded.live.id),
        reason="server decommissioned",
    )
    assert "Seat released" in shown and "0 in use of 1 allowed" in shown
    session.expire_all()
    live = session.get(Activation, seeded.live.id)
    assert live is not None and (live.status, live.release_reason) == ("released", "staff")
    last = _events(session, seeded.license)[-1]
    assert (last.action, last.actor) == ("activation.released", f"staff:{admin.id}")
    assert last.data == {"activation_id": str(seeded.live.id), "reason": "server decommissioned"}


def test_an_admin_renews_upgrade_protection_and_extends_the_term(
    client: FlaskClient, make_staff: MakeStaff, session: Session, seeded: Seeded
) -> None:
    _as(client, make_staff, "admin")
    expires = seeded.license.expires_at
    assert expires is not None
    shown = _post(client, seeded.license, "renew", months="6")
    assert "Upgrade protection renewed." in shown
    session.expire_all()
    license = session.get(License, seeded.license.id)
    assert license is not None and license.upgrade_protection_until is not None
    assert _events(session, license)[-1].action == "license.protection_renewed"
    shown = _post(client, license, "extend", days="30")
    assert "Term extended." in shown
    session.expire_all()
    license = session.get(License, seeded.license.id)
    assert license is not None and license.expires_at is not None
    assert (license.expires_at - expires).days == 30
    assert _events(session, license)[-1].action == "license.term_extended"


@pytest.mark.parametrize(("action", "field"), [("renew", "months"), ("extend", "days")])
def test_a_second_submit_of_the_same_page_renews_or_extends_once(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    seeded: Seeded,
    action: str,
    field: str,
) -> None:
    _as(client, make_staff, "admin")
    license = seeded.license
    page = client.get(f"/staff/licenses/{license.id}")
    body = page.get_data(as_text=True)
    shown = _shown_current(body, license, action)
    before = license.upgrade_protection_until if action == "renew" else license.expires_at
    assert before is not None and shown == before.isoformat()
    data = {field: "6", "current": shown, "csrf_token": csrf_token(page)}
    url = f"/staff/licenses/{license.id}/{action}"
    first = client.post(url, data=data)
    done = "Upgrade protection renewed." if action == "renew" else "Term extended."
    assert done in _flashed(client, first)
    session.expire_all()
    after_first = session.get(License, license.id)
    assert after_first is not None
    moved = after_first.upgrade_protection_until if action == "renew" else after_first.expires_at
    assert moved is not None and moved > before
    events = len(_events(session, license))

    again = client.post(url, data=data)  # the double click: the same page, posted twice
    assert again.status_code == 303
    assert "Not done: the license changed since the page was shown; reload it." in _flashed(
        client, again
    )
    session.expire_all()
    after = session.get(License, license.id)
    assert after is not None
    unchanged = after.upgrade_protection_until if action == "renew" else after.expires_at
    assert unchanged == moved
    assert len(_events(session, license)) == events


@pytest.mark.parametrize("action", ["renew", "extend"])
def test_a_form_without_the_shown_date_is_refused(
    client: FlaskClient, make_staff: MakeStaff, session: Session, seeded: Seeded, action: str
) -> None:
    _as(client, make_staff, "admin")
    before = len(_events(session, seeded.license))
    shown = _post(client, seeded.license, action, months="6", days="6", current="")
    assert "Not done: the license changed since the page was shown; reload it." in shown
    assert len(_events(session, seeded.license)) == before


def _flashed(client: FlaskClient, response: Any) -> str:
    return client.get(response.headers["Location"]).get_data(as_text=True)


@pytest.fixture
def statements(app: Any) -> Iterator[list[str]]:
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_the_page_issues_a_few_statements_however_many_activations(
    client: FlaskClient,
    make_staff: MakeStaff,
    session: Session,
    sealer: Sealer,
    seeded: Seeded,
    statements: list[str],
) -> None:
    _as(client, make_staff, "viewer")
    _page(client, seeded.license)  # warm: the sealer's hash keys are read once
    statements.clear()
    _page(client, seeded.license)
    few = len(statements)
    for n in range(6):
        seat(session, seeded.license, f"extra-{n}.example.net", released=n % 2 == 0)
    session.commit()
    statements.clear()
    _page(client, seeded.license)
    assert len(statements) == few, statements
    assert few <= 17, statements  # one reads the monthly server-name keys, one the holds


def test_the_case_page_links_to_its_license(
    client: FlaskClient, make_staff: MakeStaff, seeded: Seeded
) -> None:
    _as(client, make_staff, "viewer")
    text = client.get(f"/staff/misuse/{seeded.case.id}").get_data(as_text=True)
    assert f'href="/staff/licenses/{seeded.license.id}"' in text


def test_the_dashboard_links_its_licenses_here(
    client: FlaskClient, make_staff: MakeStaff, session: Session, sealer: Sealer
) -> None:
    ending = make_license(session, sealer, expires_at=utcnow() + timedelta(days=10)).license
    session.commit()
    _as(client, make_staff, "viewer")
    text = client.get("/staff/").get_data(as_text=True)
    assert f'href="/staff/licenses/{ending.id}"' in _section(text, "expiring")


def test_the_page_has_no_script_and_no_inline_style(
    client: FlaskClient, make_staff: MakeStaff, seeded: Seeded
) -> None:
    _as(client, make_staff, "admin")  # the page with every form on it
    text = _page(client, seeded.license)
    assert "<script" not in text and "style=" not in text
    assert text.count('name="csrf_token"') == text.count("<form") - 1  # the search box is a GET
