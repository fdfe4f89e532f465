"""The partner pages: what each role sees, and the admin's actions with their audit events."""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import event, func, select
from sqlalchemy.orm import Session

from licensing.console.views.partners import PAGE_SIZE
from licensing.crypto.sealing import Sealer
from licensing.extensions import db
from licensing.models import (
    AuditEvent,
    Disclosure,
    Partner,
    PartnerKey,
    PartnerStatus,
    Product,
    StaffUser,
)
from licensing.services import console_partners, disclosures, partners
from licensing.timeutil import utcnow
from tests import factories
from tests.functional.console.conftest import MakeStaff, csrf_token, sign_in


def _as(client: FlaskClient, make_staff: MakeStaff, role: str) -> StaffUser:
    staff = make_staff(role)
    sign_in(client, f"{role}@example.org")
    return staff


def _disclose(session: Session, sealer: Sealer, partner: Partner, at: datetime) -> Disclosure:
    license = factories.make_license(session, sealer).license
    return disclosures.record(
        session,
        partner_id=partner.id,
        partner_key_id="keyid0000001",
        partner_kind=partner.kind,
        license_id=license.id,
        answer={"license": {"status": "active", "valid": True}, "upgrade": {"eligible": True}},
        purpose="license_check",
        request_id=f"request-{uuid.uuid4().hex[:8]}",
        now=at,
    )


def _events(session: Session, partner_id: object) -> list[tuple[str, str, dict[str, Any]]]:
    rows = session.execute(
        select(AuditEvent.action, AuditEvent.actor, AuditEvent.data)
        .where(AuditEvent.subject_type == "partner", AuditEvent.subject_id == str(partner_id))
        .order_by(AuditEvent.seq)
    ).all()
    return [(action, actor, data) for action, actor, data in rows]


def _post(client: FlaskClient, url: str, page: str = "/staff/partners", **data: Any) -> Any:
    return client.post(url, data={**data, "csrf_token": csrf_token(client.get(page))})


def _flashed(client: FlaskClient, response: Any) -> str:
    assert response.status_code == 303, response.get_data(as_text=True)
    text: str = client.get(response.headers["Location"]).get_data(as_text=True)
    return " ".join(re.findall(r'<p class="flash" role="status">([^<]*)</p>', text))


def _audit_count(session: Session) -> int:
    return session.scalar(select(func.count()).select_from(AuditEvent)) or 0


@pytest.fixture
def product(session: Session) -> Product:
    made = factories.make_product(session, code="mailserver", name="Mail Server")
    session.commit()
    return made


@pytest.fixture
def partner(session: Session, product: Product) -> Partner:
    made = factories.make_partner(
        session,
        name="Hosting & Co",
        kind="lease_provider",
        products=[product],
        allowed_networks=["198.51.100.0/24", "2001:db8::/48"],
        rate_limit="120/minute",
    )
    session.commit()
    return made


# Reading


def test_the_list_says_when_there_is_no_partner(client: FlaskClient, make_staff: MakeStaff) -> None:
    _as(client, make_staff, "viewer")
    page = client.get("/staff/partners")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert 'id="no-partners"' in body and 'id="partners"' not in body
    assert 'id="register"' not in body  # a viewer gets no form
    assert 'href="/staff/partners"' in client.get("/staff/").get_data(as_text=True)


def test_the_list_counts_live_keys_and_recent_disclosures(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
) -> None:
    now = utcnow()
    factories.make_partner_key(session, sealer, partner=partner)
    revoked = factories.make_partner_key(session, sealer, partner=partner)
    partners.revoke_key(session, revoked.key.key_id, actor="test:pytest")
    expiring = factories.make_partner_key(
        session, sealer, partner=partner, expires_at=now + timedelta(minutes=1)
    )
    expiring.key.expires_at = now - timedelta(minutes=1)
    for days_ago in (1, 29, 31):
        _disclose(session, sealer, partner, now - timedelta(days=days_ago))
    other = factories.make_partner(session, name="Quiet Reseller")
    session.commit()

    _as(client, make_staff, "viewer")
    body = client.get("/staff/partners").get_data(as_text=True)
    rows = re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
    cells = {
        re.sub(r"<[^>]+>", "", row.split("</td>")[0]).strip(): re.findall(r"<td>([^<]*)</td>", row)
        for row in rows[1:]
    }
    # kind, status, products, live keys, disclosures in 30 days
    assert cells["Hosting &amp; Co"] == ["lease provider", "active", "mailserver", "1", "2"]
    assert cells["Quiet Reseller"] == ["reseller", "active", "–", "0", "0"]
    assert f'href="/staff/partners/{other.id}"' in body
    # The count's SQL agrees with the rule it mirrors, key by key.
    states = [partners.key_state(k, now) for k in partners.list_keys(session, partner)]
    assert sorted(states) == ["active", "expired", "revoked"]
    assert console_partners.live_key_counts(session, now)[partner.id] == states.count("active")


def test_a_viewer_reads_a_partner_page_without_any_action(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
) -> None:
    issued = factories.make_partner_key(session, sealer, partner=partner, label="billing system")
    told = _disclose(session, sealer, partner, utcnow() - timedelta(hours=1))
    session.commit()
    _as(client, make_staff, "viewer")
    page = client.get(f"/staff/partners/{partner.id}")
    body = page.get_data(as_text=True)
    assert page.status_code == 200
    assert "Hosting &amp; Co" in body and "lease provider" in body
    assert "<code>198.51.100.0/24</code>" in body and "<code>2001:db8::/48</code>" in body
    assert 'id="rate-limit">120/minute<' in body
    assert "<code>mailserver</code>" in body and "Mail Server" in body
    assert f"lpk_{issued.key.key_id}_…" in body and "billing system" in body
    assert issued.token not in body and issued.token.rsplit("_", 1)[1] not in body
    assert f'href="/staff/licenses/{told.license_id}"' in body
    assert "license.status, license.valid, upgrade.eligible" in body
    main = body.split("</header>")[1]  # the sign-out form is in the masthead
    assert "<form" not in main and "csrf_token" not in main
    assert f"Revoke {issued.key.key_id}" not in main and "Create a key" not in main


def test_the_default_rate_limit_and_any_network_are_said_plainly(
    client: FlaskClient, session: Session, make_staff: MakeStaff
) -> None:
    bare = factories.make_partner(session, name="Bare")
    session.commit()
    _as(client, make_staff, "analyst")
    body = client.get(f"/staff/partners/{bare.id}").get_data(as_text=True)
    assert "the server&#39;s default (60/minute)" in body
    assert 'id="networks">any address<' in body
    assert 'id="no-products"' in body and 'id="no-keys"' in body and 'id="no-disclosures"' in body


def test_disclosures_come_fifty_a_page_newest_first(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
) -> None:
    start = utcnow() - timedelta(days=2)
    made = [_disclose(session, sealer, partner, start + timedelta(minutes=i)) for i in range(51)]
    session.commit()
    _as(client, make_staff, "viewer")

    def shown(query: str) -> tuple[list[str], str]:
        response = client.get(f"/staff/partners/{partner.id}{query}")
        assert response.status_code == 200
        body = response.get_data(as_text=True)
        return re.findall(r'href="/staff/licenses/([0-9a-f-]+)"', body), body

    first, body = shown("")
    newest = [str(d.license_id) for d in reversed(made)]
    assert len(first) == PAGE_SIZE == 50
    assert first == newest[:50]
    assert 'rel="next"' in body and 'rel="prev"' not in body
    second, body = shown("?page=2")
    assert second == [str(made[0].license_id)]
    assert 'rel="next"' not in body and 'rel="prev"' in body
    beyond, body = shown("?page=9")
    assert beyond == [] and "No disclosures on this page." in body
    assert shown("?page=nonsense")[0] == first
    assert shown("?page=" + "9" * 30)[0] == []  # beyond the last page, not a database error


def test_an_unknown_or_malformed_partner_is_not_found(
    client: FlaskClient, make_staff: MakeStaff
) -> None:
    _as(client, make_staff, "admin")
    assert client.get(f"/staff/partners/{uuid.uuid4()}").status_code == 404
    assert client.get("/staff/partners/not-a-uuid").status_code == 404
    missing = _post(client, f"/staff/partners/{uuid.uuid4()}/suspend")
    assert missing.status_code == 404


def test_the_pages_need_a_signed_in_staff_member(client: FlaskClient, partner: Partner) -> None:
    for url in ("/staff/partners", f"/staff/partners/{partner.id}"):
        response = client.get(url)
        assert response.status_code == 303 and "/staff/login" in response.headers["Location"]


@pytest.fixture
def statements(app: Flask) -> Iterator[list[str]]:
    """Every SQL statement sent from now on."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def test_the_pages_read_as_much_for_many_partners_products_and_keys_as_for_one(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
    statements: list[str],
) -> None:
    _as(client, make_staff, "admin")
    partner_id = partner.id

    def counted(url: str) -> int:
        session.expunge_all()  # as a request of its own would start, with nothing loaded
        statements.clear()
        assert client.get(url).status_code == 200
        return len(statements)

    page = f"/staff/partners/{partner_id}"
    counted(page)  # the first request after signing in opens the test's savepoint
    few = counted("/staff/partners"), counted(page)
    grown = session.get(Partner, partner_id)
    assert grown is not None
    for number in range(4):
        other = factories.make_product(session, code=f"extra-{number}")
        partners.add_product(session, grown, other.code, actor="test:pytest")
        factories.make_partner_key(session, sealer, partner=grown)
        factories.make_partner(session, products=[other])
        _disclose(session, sealer, grown, utcnow())
    session.commit()
    assert (counted("/staff/partners"), counted(page)) == few
    assert max(few) <= 12, few


# Registering


def test_an_admin_registers_a_partner_as_the_cli_would(
    client: FlaskClient, session: Session, make_staff: MakeStaff, product: Product
) -> None:
    admin = _as(client, make_staff, "admin")
    assert 'id="register"' in client.get("/staff/partners").get_data(as_text=True)
    done = _post(
        client,
        "/staff/partners",
        name="  Northern Hosting  ",
        kind="reseller",
        networks="203.0.113.7\n192.0.2.0/24, 192.0.2.0/24",
        rate_limit="30/minute",
        products="mailserver",
    )
    assert done.status_code == 303
    added = session.scalar(select(Partner).where(Partner.name == "Northern Hosting"))
    assert added is not None
    assert done.headers["Location"].endswith(f"/staff/partners/{added.id}")
    assert added.kind == "reseller" and added.status == "active"
    assert added.allowed_networks == ["192.0.2.0/24", "203.0.113.7/32"]
    assert added.rate_limit == "30/minute"
    assert console_partners.product_codes(added) == ["mailserver"]
    actor = f"staff:{admin.id}"
    assert _events(session, added.id) == [
        ("partner.added", actor, {"kind": "reseller"}),
        ("partner.product_added", actor, {"product": "mailserver"}),
    ]
    assert "Partner &#39;Northern Hosting&#39; registered." in _flashed(client, done)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"products": "mailserver nosuchproduct"}, "no product with code &#39;nosuchproduct&#39;"),
        ({"networks": "10.0.0.0/33"}, "&#39;10.0.0.0/33&#39; is not an IP network (CIDR)"),
        ({"name": "Hosting & Co"}, "a partner named &#39;Hosting &amp; Co&#39; already exists"),
        ({"rate_limit": "lots"}, "&#39;lots&#39; is not a rate limit such as &#39;120/minute&#39;"),
        ({"rate_limit": "0/minute"}, "would refuse every request"),
        ({"name": "   "}, "Not done: Name: This field is required."),
        ({"name": "x" * 201}, "Not done: Name: Field cannot be longer than 200 characters."),
        ({"kind": "distributor"}, "Not done: Kind: Not a valid choice."),
    ],
)
def test_bad_registrations_are_a_message_and_register_nothing(
    client: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    partner: Partner,
    fields: dict[str, str],
    message: str,
) -> None:
    _as(client, make_staff, "admin")
    before = _audit_count(session)
    form = {
        "name": "Newcomer",
        "kind": "reseller",
        "networks": "",
        "rate_limit": "",
        "products": "",
    }
    refused = _post(client, "/staff/partners", **{**form, **fields})
    assert message in _flashed(client, refused)
    assert refused.headers["Location"].endswith("/staff/partners")
    session.expire_all()
    assert [p.name for p in partners.list_partners(session)] == ["Hosting & Co"]
    assert _audit_count(session) == before


# Suspending and reinstating


def test_an_admin_suspends_and_reinstates_a_partner(
    client: FlaskClient, session: Session, make_staff: MakeStaff, partner: Partner
) -> None:
    admin = _as(client, make_staff, "admin")
    url = f"/staff/partners/{partner.id}"
    assert "Suspend the partner" in client.get(url).get_data(as_text=True)
    done = _post(client, f"{url}/suspend", page=url)
    assert "Partner suspended" in _flashed(client, done)
    session.refresh(partner)
    assert partner.status == "suspended"
    assert "Reinstate the partner" in client.get(url).get_data(as_text=True)
    again = _post(client, f"{url}/suspend", page=url)
    assert "Not done: partner &#39;Hosting &amp; Co&#39; is already suspended." in _flashed(
        client, again
    )
    assert "Partner reinstated." in _flashed(client, _post(client, f"{url}/reinstate", page=url))
    session.refresh(partner)
    assert partner.status == "active"
    actor = f"staff:{admin.id}"
    assert [e[:2] for e in _events(session, partner.id)][-2:] == [
        ("partner.suspended", actor),
        ("partner.active", actor),
    ]


# Products


def test_an_admin_adds_and_removes_a_product(
    client: FlaskClient, session: Session, make_staff: MakeStaff, partner: Partner
) -> None:
    factories.make_product(session, code="webmail", name="Webmail")
    session.commit()
    admin = _as(client, make_staff, "admin")
    url = f"/staff/partners/{partner.id}"
    assert '<option value="webmail">' in client.get(url).get_data(as_text=True)
    added = _post(client, f"{url}/products", page=url, product="webmail")
    assert "Registered for &#39;webmail&#39;." in _flashed(client, added)
    session.expire_all()
    assert console_partners.product_codes(partner) == ["mailserver", "webmail"]
    removed = _post(client, f"{url}/products/remove", page=url, product="mailserver")
    assert "No longer registered for &#39;mailserver&#39;." in _flashed(client, removed)
    session.expire_all()
    assert console_partners.product_codes(partner) == ["webmail"]
    actor = f"staff:{admin.id}"
    assert _events(session, partner.id)[-2:] == [
        ("partner.product_added", actor, {"product": "webmail"}),
        ("partner.product_removed", actor, {"product": "mailserver"}),
    ]


@pytest.mark.parametrize(
    ("path", "code", "message"),
    [
        ("products", "nosuchproduct", "Not done: no product with code &#39;nosuchproduct&#39;."),
        ("products", "mailserver", "is already registered for &#39;mailserver&#39;"),
        ("products", "", "Not done: Product code: This field is required."),
        ("products/remove", "webmail", "is not registered for &#39;webmail&#39;"),
    ],
)
def test_a_bad_product_change_is_a_message(
    client: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    partner: Partner,
    path: str,
    code: str,
    message: str,
) -> None:
    factories.make_product(session, code="webmail", name="Webmail")
    session.commit()
    _as(client, make_staff, "admin")
    before = _audit_count(session)
    url = f"/staff/partners/{partner.id}"
    assert message in _flashed(client, _post(client, f"{url}/{path}", page=url, product=code))
    session.expire_all()
    assert console_partners.product_codes(partner) == ["mailserver"]
    assert _audit_count(session) == before


# API keys


def _session_data(app: Flask, client: FlaskClient) -> str:
    cookie = client.get_cookie("licensing_staff", path="/staff")
    assert cookie is not None
    serializer = app.session_interface.get_signing_serializer(app)  # type: ignore[attr-defined]
    return repr(serializer.loads(cookie.value))


def test_a_new_key_is_shown_once_and_only_its_digest_is_kept(
    app: Flask,
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
) -> None:
    admin = _as(client, make_staff, "admin")
    url = f"/staff/partners/{partner.id}"
    expires = (utcnow() + timedelta(days=90)).date()
    shown = _post(
        client,
        f"{url}/keys",
        page=url,
        scopes=["licenses:check"],
        expires=expires.isoformat(),
        label="provisioning",
    )
    body = shown.get_data(as_text=True)
    assert shown.status_code == 200
    assert shown.headers["Cache-Control"] == "no-store"
    assert "it will not be shown again" in body
    token = re.search(r'<code class="secret" id="new-key">([^<]+)</code>', body)
    assert token is not None
    parsed = partners.parse_token(token.group(1))
    assert parsed is not None
    key_id, secret = parsed

    key = session.scalar(select(PartnerKey).where(PartnerKey.key_id == key_id))
    assert key is not None and key.partner_id == partner.id
    assert key.digest == partners.secret_digest(sealer, secret)
    assert key.scopes == ["licenses:check"] and key.label == "provisioning"
    assert key.expires_at == datetime(expires.year, expires.month, expires.day, tzinfo=UTC)
    assert _events(session, partner.id)[-1] == (
        "partner.key_created",
        f"staff:{admin.id}",
        {"key_id": key_id, "scopes": ["licenses:check"]},
    )
    # Never again: not on the partner's page, not in a flash, not in the session.
    again = client.get(url).get_data(as_text=True)
    assert f"lpk_{key_id}_…" in again
    assert secret not in again and token.group(1) not in again
    assert secret not in _session_data(app, client)
    stored = session.execute(select(AuditEvent.data)).scalars().all()
    assert all(secret not in repr(data) for data in stored)


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"scopes": []}, "Not done: Scopes: choose at least one scope"),
        ({"scopes": ["licenses:write"]}, "Not done: Scopes: &#39;licenses:write&#39;"),
        ({"expires": "2020-01-01"}, "Not done: the key&#39;s expiry must be in the future."),
        ({"expires": "next week"}, "Not done: Expires on: Not a valid date value."),
        ({"label": "x" * 201}, "Not done: Label: Field cannot be longer than 200 characters."),
    ],
)
def test_a_bad_key_request_is_a_message_and_creates_no_key(
    client: FlaskClient,
    session: Session,
    make_staff: MakeStaff,
    partner: Partner,
    fields: dict[str, Any],
    message: str,
) -> None:
    _as(client, make_staff, "admin")
    url = f"/staff/partners/{partner.id}"
    form = {"scopes": ["licenses:check", "releases:read"], "expires": "", "label": ""}
    refused = _post(client, f"{url}/keys", page=url, **{**form, **fields})
    assert message in _flashed(client, refused)
    assert list(partners.list_keys(session, partner)) == []


def test_an_admin_revokes_a_key_of_this_partner_only(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
) -> None:
    mine = factories.make_partner_key(session, sealer, partner=partner)
    other = factories.make_partner_key(session, sealer)  # another partner's
    session.commit()
    admin = _as(client, make_staff, "admin")
    url = f"/staff/partners/{partner.id}"
    assert f"Revoke {mine.key.key_id}" in client.get(url).get_data(as_text=True)
    done = _post(client, f"{url}/keys/{mine.key.key_id}/revoke", page=url)
    assert f"Key {mine.key.key_id} revoked" in _flashed(client, done)
    session.expire_all()
    assert mine.key.revoked_at is not None
    assert _events(session, partner.id)[-1] == (
        "partner.key_revoked",
        f"staff:{admin.id}",
        {"key_id": mine.key.key_id},
    )
    assert f"Revoke {mine.key.key_id}" not in client.get(url).get_data(as_text=True)
    again = _post(client, f"{url}/keys/{mine.key.key_id}/revoke", page=url)
    assert "is already revoked" in _flashed(client, again)
    elsewhere = _post(client, f"{url}/keys/{other.key.key_id}/revoke", page=url)
    assert f"Not done: no partner key &#39;{other.key.key_id}&#39; of" in _flashed(
        client, elsewhere
    )
    session.expire_all()
    assert other.key.revoked_at is None


# Refusals


_ACTIONS = [
    ("", {"name": "Forged", "kind": "reseller"}),
    ("/{id}/suspend", {}),
    ("/{id}/reinstate", {}),
    ("/{id}/products", {"product": "webmail"}),
    ("/{id}/products/remove", {"product": "mailserver"}),
    ("/{id}/keys", {"scopes": ["licenses:check"]}),
    ("/{id}/keys/{key}/revoke", {}),
]


def _state(session: Session, partner: Partner) -> tuple[Any, ...]:
    session.expire_all()
    keys = [(k.key_id, k.revoked_at) for k in partners.list_keys(session, partner)]
    names = [p.name for p in partners.list_partners(session)]
    return (partner.status, console_partners.product_codes(partner), keys, names)


@pytest.mark.parametrize("role", ["viewer", "analyst"])
@pytest.mark.parametrize(("path", "fields"), _ACTIONS)
def test_a_forged_post_below_admin_is_refused_and_changes_nothing(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
    role: str,
    path: str,
    fields: dict[str, Any],
) -> None:
    factories.make_product(session, code="webmail", name="Webmail")
    key = factories.make_partner_key(session, sealer, partner=partner).key
    if path.endswith("reinstate"):
        partners.set_status(session, partner, PartnerStatus.SUSPENDED, actor="test")
    session.commit()
    _as(client, make_staff, role)
    before, events = _state(session, partner), _audit_count(session)
    url = "/staff/partners" + path.format(id=partner.id, key=key.key_id)
    forged = _post(client, url, page="/staff/", **fields)  # a valid token: the sign-out form's
    assert forged.status_code == 403
    assert "Nothing was changed" in forged.get_data(as_text=True)
    assert _state(session, partner) == before
    assert _audit_count(session) == events


@pytest.mark.parametrize(("path", "fields"), _ACTIONS)
def test_a_post_without_the_csrf_token_is_refused(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
    path: str,
    fields: dict[str, Any],
) -> None:
    factories.make_product(session, code="webmail", name="Webmail")
    key = factories.make_partner_key(session, sealer, partner=partner).key
    if path.endswith("reinstate"):
        partners.set_status(session, partner, PartnerStatus.SUSPENDED, actor="test")
    session.commit()
    _as(client, make_staff, "admin")
    before, events = _state(session, partner), _audit_count(session)
    url = "/staff/partners" + path.format(id=partner.id, key=key.key_id)
    refused = client.post(url, data=fields)
    assert refused.status_code == 400
    assert "The form could not be accepted" in refused.get_data(as_text=True)
    assert _state(session, partner) == before
    assert _audit_count(session) == events


# The actions as the partner API sees them


def test_a_key_made_in_the_console_works_until_suspended_or_revoked_there(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    make_staff: MakeStaff,
    partner: Partner,
    product: Product,
) -> None:
    license_key = factories.make_license(
        session, sealer, edition=factories.make_edition(session, product=product)
    ).key.display
    session.commit()
    _as(client, make_staff, "admin")
    url = f"/staff/partners/{partner.id}"
    shown = _post(client, f"{url}/keys", page=url, scopes=["licenses:check"])
    found = re.search(r'id="new-key">([^<]+)<', shown.get_data(as_text=True))
    assert found is not None
    token = found.group(1)
    key_id = token.split("_")[1]

    def check() -> int:
        # The partner's own client: no console cookie, no CSRF token; the allow-list admits it.
        api = client.application.test_client()
        status: int = api.post(
            "/v1/partner/license-checks",
            json={"license_key": license_key},
            headers={"Authorization": f"Bearer {token}"},
            environ_base={"REMOTE_ADDR": "198.51.100.20"},
        ).status_code
        return status

    assert check() == 200
    assert 'href="/staff/licenses/' in client.get(url).get_data(as_text=True)
    _post(client, f"{url}/suspend", page=url)
    assert check() == 403
    _post(client, f"{url}/reinstate", page=url)
    assert check() == 200
    _post(client, f"{url}/keys/{key_id}/revoke", page=url)
    assert check() == 401
