"""The partner API's gate (PROTOCOL.md §6): keys, scopes, addresses, rate limits, disclosures.

What the answers contain, upgrade eligibility and request validation are in
test_partner_answers.py.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask import Flask
from flask.testing import FlaskClient
from sqlalchemy import select
from sqlalchemy.orm import Session
from werkzeug.test import TestResponse

from licensing import create_app
from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.models import Disclosure, PartnerKey, PartnerStatus, Product, Scope
from licensing.services import catalog, licenses, partners
from tests import factories
from tests.functional.partner_client import (
    LICENSE_FIELDS,
    UPGRADE_FIELDS,
    PartnerApi,
    another_key,
    disclosure_count,
    problem,
    register,
)

ENDPOINTS = ("check", "releases")
# Headers that differ between any two answers, whatever they are about.
PER_REQUEST_HEADERS = frozenset({"x-request-id", "date"})
RESET = frozenset({"ratelimit-reset"})


@pytest.fixture
def seller(client: FlaskClient, session: Session, sealer: Sealer, product: Product) -> PartnerApi:
    """A reseller registered for ``product``, with a key of both scopes."""
    return register(client, session, sealer, products=[product])


def issue_license(session: Session, sealer: Sealer, product: Product) -> licenses.IssuedLicense:
    issued = factories.make_license(
        session, sealer, edition=factories.make_edition(session, product=product)
    )
    session.commit()
    return issued


@pytest.fixture
def license_key(session: Session, sealer: Sealer, product: Product) -> str:
    """The key of a valid license of ``product``."""
    return issue_license(session, sealer, product).key.display


@pytest.fixture
def foreign_product(session: Session) -> Product:
    """A product no partner in the test is registered for."""
    other = factories.make_product(session)
    factories.make_release(session, product=other, version="1.0.0")
    session.commit()
    return other


def ok(response: TestResponse) -> dict[str, Any]:
    assert response.status_code == 200, (response.status_code, response.get_data(as_text=True))
    body = response.json
    assert isinstance(body, dict)
    return body


def comparable(response: TestResponse, *, also_ignore: frozenset[str] = frozenset()) -> Any:
    """Status, headers and body bytes, less what differs per request (id, date)."""
    request_id = response.headers["X-Request-Id"]
    ignored = PER_REQUEST_HEADERS | also_ignore
    headers = [(k, v) for k, v in response.headers.items() if k.lower() not in ignored]
    body = response.get_data().replace(request_id.encode("ascii"), b"<request-id>")
    return response.status_code, headers, body


def key_parts(token: str) -> tuple[str, str]:
    prefix, key_id, secret = token.split("_", 2)
    assert prefix == "lpk"
    return key_id, secret


# --- 401: no valid key --------------------------------------------------------------------------

BAD_AUTHORIZATION: dict[str, Callable[[str], dict[str, str]]] = {
    "no header": lambda token: {},
    "empty header": lambda token: {"Authorization": ""},
    "scheme only": lambda token: {"Authorization": "Bearer "},
    "basic scheme": lambda token: {"Authorization": f"Basic {token}"},
    "no scheme": lambda token: {"Authorization": token},
    "not a partner key": lambda token: {"Authorization": "Bearer 6E86N-JY2MX-K1WS8-JMXTQ-EHXDK"},
    "malformed partner key": lambda token: {"Authorization": f"Bearer {token}x"},
    "truncated secret": lambda token: {"Authorization": f"Bearer {token[:-1]}"},
    "unknown key id": lambda token: {
        "Authorization": f"Bearer lpk_{'Z' * 12}_{key_parts(token)[1]}"
    },
    "right key id, wrong secret": lambda token: {
        "Authorization": f"Bearer lpk_{key_parts(token)[0]}_{'A' * 43}"
    },
    "right key id, secret of another case": lambda token: {
        "Authorization": f"Bearer lpk_{key_parts(token)[0]}_{key_parts(token)[1].swapcase()}"
    },
}


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize("case", BAD_AUTHORIZATION, ids=list(BAD_AUTHORIZATION))
def test_a_missing_or_wrong_key_is_401(
    seller: PartnerApi,
    license_key: str,
    product: Product,
    session: Session,
    endpoint: str,
    case: str,
) -> None:
    headers = BAD_AUTHORIZATION[case](seller.token)

    response = seller.call(endpoint, license_key, product.code, headers=headers)

    problem(response, 401, "UNAUTHENTICATED")
    assert "RateLimit-Limit" not in response.headers  # refused before any counting
    assert disclosure_count(session) == 0


def test_the_bearer_scheme_is_case_insensitive(seller: PartnerApi, license_key: str) -> None:
    ok(seller.check(license_key, headers={"Authorization": f"bearer {seller.token}"}))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_revoked_key_is_401_and_the_partners_other_keys_still_work(
    seller: PartnerApi,
    license_key: str,
    product: Product,
    session: Session,
    sealer: Sealer,
    actor: str,
    endpoint: str,
) -> None:
    other = another_key(seller, session, sealer)
    ok(seller.call(endpoint, license_key, product.code))

    partners.revoke_key(session, seller.issued.key.key_id, actor=actor)
    session.commit()

    body = problem(seller.call(endpoint, license_key, product.code), 401, "UNAUTHENTICATED")
    assert "revoked" in body["detail"]
    ok(other.call(endpoint, license_key, product.code))


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_an_expired_key_is_401(
    seller: PartnerApi,
    license_key: str,
    product: Product,
    session: Session,
    sealer: Sealer,
    endpoint: str,
) -> None:
    soon = another_key(seller, session, sealer, expires_at=datetime.now(UTC) + timedelta(hours=1))
    ok(soon.call(endpoint, license_key, product.code))

    key = session.get(PartnerKey, soon.issued.key.id)
    assert key is not None
    key.expires_at = datetime.now(UTC) - timedelta(seconds=1)
    session.commit()

    body = problem(soon.call(endpoint, license_key, product.code), 401, "UNAUTHENTICATED")
    assert "expired" in body["detail"]


def test_the_same_401_for_an_unknown_key_id_and_a_wrong_secret(seller: PartnerApi) -> None:
    """A caller cannot tell a real key id from a made-up one."""
    key_id, secret = key_parts(seller.token)
    unknown_id = seller.check(
        "6E86N-JY2MX-K1WS8-JMXTQ-EHXDK",
        headers={"Authorization": f"Bearer lpk_{'Z' * 12}_{secret}"},
    )
    wrong_secret = seller.check(
        "6E86N-JY2MX-K1WS8-JMXTQ-EHXDK",
        headers={"Authorization": f"Bearer lpk_{key_id}_{'A' * 43}"},
    )

    problem(unknown_id, 401, "UNAUTHENTICATED")
    assert comparable(unknown_id) == comparable(wrong_secret)


# --- 403: scope, address, suspended partner -------------------------------------------------


@pytest.mark.parametrize(
    ("scope", "allowed", "denied"),
    [(Scope.RELEASES_READ, "releases", "check"), (Scope.LICENSES_CHECK, "check", "releases")],
)
def test_a_key_without_the_endpoints_scope_is_403(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    product: Product,
    license_key: str,
    scope: str,
    allowed: str,
    denied: str,
) -> None:
    api = register(client, session, sealer, products=[product], scopes=[scope])

    body = problem(api.call(denied, license_key, product.code), 403, "FORBIDDEN")
    assert "scope" in body["detail"]
    ok(api.call(allowed, license_key, product.code))
    # Only an allowed license check discloses anything.
    assert disclosure_count(session) == (1 if allowed == "check" else 0)


NETWORKS = ("192.0.2.0/24", "2001:db8:1::/48")
ADDRESSES = (
    ("192.0.2.77", True),
    ("192.0.2.0", True),
    ("192.0.2.255", True),
    ("192.0.3.1", False),
    ("10.0.0.1", False),
    ("127.0.0.1", False),
    ("2001:db8:1::1", True),
    ("2001:db8:1:ffff:ffff:ffff:ffff:ffff", True),
    ("2001:db8:2::1", False),
    ("::1", False),
)


@pytest.mark.parametrize("endpoint", ENDPOINTS)
@pytest.mark.parametrize(("address", "inside"), ADDRESSES, ids=[a for a, _ in ADDRESSES])
def test_the_allow_list_admits_only_its_networks(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    product: Product,
    license_key: str,
    endpoint: str,
    address: str,
    inside: bool,
) -> None:
    api = register(client, session, sealer, products=[product], allowed_networks=NETWORKS)

    response = api.call(endpoint, license_key, product.code, environ={"REMOTE_ADDR": address})

    if inside:
        ok(response)
    else:
        body = problem(response, 403, "FORBIDDEN")
        assert "address" in body["detail"]
        assert disclosure_count(session) == 0


def test_without_an_allow_list_any_address_is_admitted(
    seller: PartnerApi, license_key: str
) -> None:
    for address in ("198.51.100.9", "2001:db8:ffff::1"):
        ok(seller.check(license_key, environ={"REMOTE_ADDR": address}))


def test_a_forwarded_for_header_is_not_believed_without_trusted_proxies(
    client: FlaskClient, session: Session, sealer: Sealer, product: Product, license_key: str
) -> None:
    api = register(client, session, sealer, products=[product], allowed_networks=NETWORKS)

    response = api.check(
        license_key,
        headers={**api.authorization, "X-Forwarded-For": "192.0.2.77"},
        environ={"REMOTE_ADDR": "198.51.100.9"},
    )

    problem(response, 403, "FORBIDDEN")


@pytest.fixture
def proxied_client(app: Flask, app_config: dict[str, Any]) -> FlaskClient:
    """A server behind one trusted proxy (it shares the test's rolled-back connection)."""
    return create_app({**app_config, "LICENSING_TRUSTED_PROXY_HOPS": "1"}).test_client()


@pytest.mark.parametrize(
    ("forwarded_for", "inside"),
    [
        ("192.0.2.77", True),
        ("198.51.100.9, 192.0.2.77", True),  # only the hop the proxy saw counts
        ("192.0.2.77, 198.51.100.9", False),  # the client's own claim is not believed
        ("2001:db8:1::7", True),
        ("198.51.100.9", False),
    ],
)
def test_behind_a_trusted_proxy_the_address_the_proxy_saw_is_checked(
    proxied_client: FlaskClient,
    session: Session,
    sealer: Sealer,
    product: Product,
    license_key: str,
    forwarded_for: str,
    inside: bool,
) -> None:
    api = register(proxied_client, session, sealer, products=[product], allowed_networks=NETWORKS)

    response = api.check(
        license_key,
        headers={**api.authorization, "X-Forwarded-For": forwarded_for},
        environ={"REMOTE_ADDR": "10.0.0.1"},  # the proxy, outside the partner's networks
    )

    if inside:
        ok(response)
    else:
        problem(response, 403, "FORBIDDEN")


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_suspended_partner_is_403_until_reinstated(
    seller: PartnerApi,
    license_key: str,
    product: Product,
    session: Session,
    actor: str,
    endpoint: str,
) -> None:
    partners.set_status(session, seller.partner, PartnerStatus.SUSPENDED, actor=actor)
    session.commit()

    body = problem(seller.call(endpoint, license_key, product.code), 403, "FORBIDDEN")
    assert "suspended" in body["detail"]
    assert disclosure_count(session) == 0

    partners.set_status(session, seller.partner, PartnerStatus.ACTIVE, actor=actor)
    session.commit()
    ok(seller.call(endpoint, license_key, product.code))


# --- 404: a partner never sees another product's licenses ------------------------------------


@pytest.mark.parametrize("state", ["active", "suspended", "revoked"])
@pytest.mark.parametrize("target_version", [None, "1.0.0"])
def test_a_license_of_an_unregistered_product_is_as_unknown_as_no_license(
    seller: PartnerApi,
    foreign_product: Product,
    session: Session,
    sealer: Sealer,
    actor: str,
    state: str,
    target_version: str | None,
) -> None:
    foreign = issue_license(session, sealer, foreign_product)
    if state == "suspended":
        licenses.suspend(session, foreign.license, reason="unpaid", actor=actor)
    if state == "revoked":
        licenses.revoke(session, foreign.license, reason="fraud", actor=actor, four_eyes=False)
    session.commit()
    # A second key of the same partner starts its own rate-limit window, so both answers
    # carry the same RateLimit-Remaining.
    fresh = another_key(seller, session, sealer)

    unregistered = seller.check(foreign.key.display, target_version)
    unknown = fresh.check(license_keys.generate().display, target_version)

    body = problem(unregistered, 404, "LICENSE_NOT_FOUND")
    assert body["type"] == "/problems/license-not-found"
    # RateLimit-Reset counts whole seconds to each key's own window end: it may tick between
    # the two requests, but it says nothing about the license.
    assert comparable(unregistered, also_ignore=RESET) == comparable(unknown, also_ignore=RESET)
    reset = int(unregistered.headers["RateLimit-Reset"])
    assert abs(reset - int(unknown.headers["RateLimit-Reset"])) <= 1
    assert foreign_product.code not in unregistered.get_data(as_text=True)
    assert disclosure_count(session) == 0


def test_registering_for_a_product_opens_its_licenses_and_removing_it_closes_them(
    seller: PartnerApi,
    foreign_product: Product,
    session: Session,
    sealer: Sealer,
    actor: str,
) -> None:
    foreign = issue_license(session, sealer, foreign_product)
    problem(seller.check(foreign.key.display), 404, "LICENSE_NOT_FOUND")

    partners.add_product(session, seller.partner, foreign_product.code, actor=actor)
    session.commit()
    assert ok(seller.check(foreign.key.display))["license"]["product"] == foreign_product.code

    partners.remove_product(session, seller.partner, foreign_product.code, actor=actor)
    session.commit()
    problem(seller.check(foreign.key.display), 404, "LICENSE_NOT_FOUND")
    assert disclosure_count(session) == 1


def test_an_unregistered_product_has_the_releases_of_an_unknown_one(
    seller: PartnerApi, session: Session, sealer: Sealer, actor: str
) -> None:
    """The same code asked for before the product exists and after: the same 404."""
    code = factories.unique("secret-product")
    fresh = another_key(seller, session, sealer)

    unknown = seller.releases(code)
    catalog.add_product(session, code=code, name="Not sold by this partner", actor=actor)
    factories.make_release(
        session, product=catalog.get_product(session, code), version="3.0.0", actor=actor
    )
    session.commit()
    unregistered = fresh.releases(code)

    problem(unknown, 404, "NOT_FOUND")
    assert comparable(unregistered, also_ignore=RESET) == comparable(unknown, also_ignore=RESET)
    assert "3.0.0" not in unregistered.get_data(as_text=True)


# --- 429: per-key rate limits ------------------------------------------------------------------


@pytest.mark.parametrize("endpoint", ENDPOINTS)
def test_a_partners_rate_limit_is_enforced_with_ratelimit_headers(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    product: Product,
    license_key: str,
    endpoint: str,
) -> None:
    api = register(client, session, sealer, products=[product], rate_limit="2/minute")

    first = api.call(endpoint, license_key, product.code)
    second = api.call(endpoint, license_key, product.code)
    refused = api.call(endpoint, license_key, product.code)

    for response, remaining in ((first, "1"), (second, "0")):
        ok(response)
        assert response.headers["RateLimit-Limit"] == "2"
        assert response.headers["RateLimit-Remaining"] == remaining
        assert 0 < int(response.headers["RateLimit-Reset"]) <= 60
        assert "Retry-After" not in response.headers
    body = problem(refused, 429, "RATE_LIMITED")
    assert body["type"] == "/problems/rate-limited"
    assert refused.headers["RateLimit-Limit"] == "2"
    assert refused.headers["RateLimit-Remaining"] == "0"
    reset = int(refused.headers["RateLimit-Reset"])
    assert 0 < reset <= 60
    assert 1 <= int(refused.headers["Retry-After"]) <= 60
    assert abs(int(refused.headers["Retry-After"]) - reset) <= 1
    # Refused requests are not answered, so nothing is disclosed for them.
    assert disclosure_count(session) == (2 if endpoint == "check" else 0)


def test_the_limit_is_per_key(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    product: Product,
    license_key: str,
) -> None:
    api = register(client, session, sealer, products=[product], rate_limit="1/minute")
    other = another_key(api, session, sealer)

    ok(api.check(license_key))
    problem(api.check(license_key), 429, "RATE_LIMITED")
    ok(other.check(license_key))
    problem(other.check(license_key), 429, "RATE_LIMITED")


def test_one_budget_covers_every_endpoint_of_a_key(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    product: Product,
    license_key: str,
) -> None:
    api = register(client, session, sealer, products=[product], rate_limit="3/minute")

    answers = [api.call(endpoint, license_key, product.code) for endpoint in ENDPOINTS * 2]

    for response, remaining in zip(answers[:3], ("2", "1", "0"), strict=True):
        ok(response)
        assert response.headers["RateLimit-Remaining"] == remaining
    for refused in answers[3:]:
        problem(refused, 429, "RATE_LIMITED")
    assert len(set(ENDPOINTS)) == 2


def test_a_partner_without_its_own_limit_gets_the_servers_default(
    app: Flask,
    app_config: dict[str, Any],
    session: Session,
    sealer: Sealer,
    product: Product,
    license_key: str,
) -> None:
    strict = create_app({**app_config, "LICENSING_PARTNER_RATE_LIMIT": "1/minute"})
    api = register(strict.test_client(), session, sealer, products=[product])

    first = api.check(license_key)
    ok(first)
    assert first.headers["RateLimit-Limit"] == "1"
    problem(api.check(license_key), 429, "RATE_LIMITED")


# --- the disclosure log ---------------------------------------------------------------------


def disclosures(session: Session) -> list[Disclosure]:
    session.expire_all()
    return list(session.scalars(select(Disclosure).order_by(Disclosure.id)))


def test_each_answer_is_one_disclosure_with_its_request_id(
    seller: PartnerApi, license_key: str, session: Session
) -> None:
    license = licenses.find(session, license_key)
    before = datetime.now(UTC).replace(microsecond=0)

    plain = seller.check(license_key)
    with_upgrade = seller.check(license_key, "2.0.0")
    given_id = seller.check(
        license_key, headers={**seller.authorization, "X-Request-Id": "partner-ticket-4711"}
    )

    for response in (plain, with_upgrade, given_id):
        ok(response)
    assert given_id.headers["X-Request-Id"] == "partner-ticket-4711"
    rows = disclosures(session)
    assert [row.request_id for row in rows] == [
        plain.headers["X-Request-Id"],
        with_upgrade.headers["X-Request-Id"],
        "partner-ticket-4711",
    ]
    license_fields = {f"license.{name}" for name in LICENSE_FIELDS}
    upgrade_fields = {f"upgrade.{name}" for name in UPGRADE_FIELDS}
    for row, fields in zip(
        rows, (license_fields, license_fields | upgrade_fields, license_fields), strict=True
    ):
        assert row.partner_id == seller.partner.id
        assert row.license_id == license.id
        assert row.partner_key_id == seller.issued.key.key_id
        assert row.purpose == "license_check"
        assert sorted(row.fields) == sorted(fields)
        assert before <= row.disclosed_at <= datetime.now(UTC)


def test_each_partner_sees_only_its_own_disclosures(
    seller: PartnerApi,
    license_key: str,
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    product: Product,
) -> None:
    rival = register(client, session, sealer, products=[product], kind="lease_provider")

    ok(seller.check(license_key))
    ok(rival.check(license_key))
    ok(rival.check(license_key))

    assert disclosure_count(session, seller.partner) == 1
    assert disclosure_count(session, rival.partner) == 2
    assert disclosures(session)[-1].details == {"partner_kind": "lease_provider"}


# Each scenario prepares a request that must fail, and returns a way to send it.
Send = Callable[[], TestResponse]


def _bad_key(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    return lambda: api.check(key, headers={"Authorization": "Bearer x"})


def _scope_missing(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    narrow = another_key(api, session, sealer, scopes=[Scope.RELEASES_READ])
    return lambda: narrow.check(key)


def _outside_allow_list(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    api.partner.allowed_networks = ["192.0.2.0/24"]
    session.commit()
    return lambda: api.check(key, environ={"REMOTE_ADDR": "198.51.100.9"})


def _suspended_partner(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    partners.set_status(session, api.partner, PartnerStatus.SUSPENDED, actor="test:pytest")
    session.commit()
    return lambda: api.check(key)


def _unknown_key(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    return lambda: api.check(license_keys.generate().display)


def _unregistered_product(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    foreign = issue_license(session, sealer, factories.make_product(session))
    return lambda: api.check(foreign.key.display)


def _malformed_key(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    return lambda: api.check(key[:-1])


def _bad_target_version(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    return lambda: api.check(key, "not a version")


def _unknown_field(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    return lambda: api.check(body={"license_key": key, "customer_email": "ada@example.com"})


def _rate_limited(api: PartnerApi, key: str, session: Session, sealer: Sealer) -> Send:
    api.partner.rate_limit = "1/minute"
    session.commit()
    ok(api.check(key))  # the one answer the window allows (and its disclosure)
    return lambda: api.check(key)


FAILURES: dict[str, tuple[int, Callable[[PartnerApi, str, Session, Sealer], Send]]] = {
    "401 bad key": (401, _bad_key),
    "403 scope": (403, _scope_missing),
    "403 address": (403, _outside_allow_list),
    "403 suspended": (403, _suspended_partner),
    "404 unknown key": (404, _unknown_key),
    "404 unregistered product": (404, _unregistered_product),
    "422 malformed key": (422, _malformed_key),
    "422 bad target version": (422, _bad_target_version),
    "422 unknown field": (422, _unknown_field),
    "429 rate limited": (429, _rate_limited),
}


@pytest.mark.parametrize("case", FAILURES, ids=list(FAILURES))
def test_no_disclosure_without_an_answer(
    seller: PartnerApi, license_key: str, session: Session, sealer: Sealer, case: str
) -> None:
    status, prepare = FAILURES[case]
    send = prepare(seller, license_key, session, sealer)
    before = disclosure_count(session)

    response = send()

    assert response.status_code == status, response.get_data(as_text=True)
    assert response.mimetype == "application/problem+json"
    assert disclosure_count(session) == before
    assert before == (1 if case == "429 rate limited" else 0)


def test_a_key_records_when_it_was_last_used(
    seller: PartnerApi, license_key: str, session: Session
) -> None:
    assert seller.issued.key.last_used_at is None

    ok(seller.check(license_key))

    session.expire_all()
    key = session.get(PartnerKey, seller.issued.key.id)
    assert key is not None and key.last_used_at is not None
    assert datetime.now(UTC) - key.last_used_at < timedelta(minutes=1)


@pytest.mark.parametrize("case", ["403 scope", "404 unknown key", "422 malformed key"])
def test_a_refused_request_does_not_count_as_a_use(
    seller: PartnerApi, license_key: str, session: Session, sealer: Sealer, case: str
) -> None:
    """Like disclosures, last-used times are written only with an answer."""
    status, prepare = FAILURES[case]
    send = prepare(seller, license_key, session, sealer)
    keys = [seller.issued.key.id, *(key.id for key in partners.list_keys(session, seller.partner))]

    assert send().status_code == status

    session.expire_all()
    found = [session.get(PartnerKey, key_id) for key_id in keys]
    assert [key.last_used_at if key else "gone" for key in found] == [None] * len(keys)


def test_a_401_names_the_bearer_scheme(client: FlaskClient) -> None:
    answer = client.get("/v1/partner/products/anything/releases")
    assert answer.status_code == 401
    assert answer.headers["WWW-Authenticate"].startswith("Bearer ")
