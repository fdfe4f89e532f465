"""What a partner is told (PROTOCOL.md §6): the allow-listed answer, upgrade eligibility,
request validation, and product releases.

Who may ask at all (keys, scopes, addresses, limits, disclosures) is in test_partner_api.py.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from flask.testing import FlaskClient
from sqlalchemy import event
from sqlalchemy.orm import Session

from licensing.crypto import license_keys
from licensing.crypto.sealing import Sealer
from licensing.extensions import db
from licensing.models import License, Product
from licensing.services import licenses, partners
from licensing.services.licenses import IssuedLicense
from tests import factories
from tests.functional.instance_client import Instance, Licensed, rfc3339
from tests.functional.partner_client import (
    LICENSE_FIELDS,
    SEAT_FIELDS,
    UPGRADE_FIELDS,
    PartnerApi,
    answer,
    disclosure_count,
    problem,
    register,
)
from tests.signing import Credentials

# Upgrade protection of the licenses below ends at END; releases around it.
END = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
RELEASES = (
    ("2.9.0", END - timedelta(days=400)),
    ("3.0.0", END - timedelta(days=1)),
    ("3.1.0", END),  # exactly on the end of protection: still covered
    ("3.2.0", END + timedelta(seconds=1)),
    ("4.0.0", END + timedelta(days=365)),
)


@pytest.fixture
def catalog_product(session: Session) -> Product:
    product = factories.make_product(session)
    for version, released_at in RELEASES:
        factories.make_release(session, product=product, version=version, released_at=released_at)
    return product


@pytest.fixture
def seller(
    client: FlaskClient, session: Session, sealer: Sealer, catalog_product: Product
) -> PartnerApi:
    return register(client, session, sealer, products=[catalog_product])


def issue(
    session: Session,
    sealer: Sealer,
    product: Product,
    *,
    protection_until: datetime | None = END,
    **options: Any,
) -> IssuedLicense:
    """A license of ``product`` whose protection ends at ``protection_until`` (None: never)."""
    issued = factories.make_license(
        session,
        sealer,
        edition=factories.make_edition(session, product=product, **options),
        upgrade_protection_until=protection_until or END,
    )
    if protection_until is None:
        issued.license.upgrade_protection_until = None
    session.commit()
    return issued


@pytest.fixture
def issued(session: Session, sealer: Sealer, catalog_product: Product) -> IssuedLicense:
    return issue(session, sealer, catalog_product)


# --- the answer: exactly the allow-list -------------------------------------------------------


def test_the_answer_is_exactly_the_allow_list(
    seller: PartnerApi, issued: IssuedLicense, catalog_product: Product
) -> None:
    body = answer(seller.check(issued.key.display))

    assert set(body) == {"license"}
    license = body["license"]
    assert set(license) == LICENSE_FIELDS
    assert set(license["activations"]) == SEAT_FIELDS
    assert license == {
        "product": catalog_product.code,
        "edition": issued.license.edition.code,
        "status": "active",
        "valid": True,
        "code": "VALID",
        "expires_at": None,
        "upgrade_protection_until": rfc3339(END),
        "activations": {"used": 0, "allowed": 1},
    }


def test_with_a_target_version_the_answer_adds_exactly_the_upgrade(
    seller: PartnerApi, issued: IssuedLicense
) -> None:
    body = answer(seller.check(issued.key.display, "3.0.0"))

    assert set(body) == {"license", "upgrade"}
    assert set(body["license"]) == LICENSE_FIELDS
    assert set(body["license"]["activations"]) == SEAT_FIELDS
    assert set(body["upgrade"]) == UPGRADE_FIELDS


def test_a_term_license_answers_its_expiry(
    seller: PartnerApi, session: Session, sealer: Sealer, catalog_product: Product
) -> None:
    expires_at = datetime.now(UTC).replace(microsecond=0) + timedelta(days=30)
    issued = factories.make_license(
        session,
        sealer,
        edition=factories.make_edition(session, product=catalog_product, max_activations=3),
        expires_at=expires_at,
    )
    session.commit()

    license = answer(seller.check(issued.key.display))["license"]

    assert (license["expires_at"], license["valid"]) == (rfc3339(expires_at), True)
    assert license["activations"] == {"used": 0, "allowed": 3}


def test_no_personal_data_reaches_a_partner(
    client: FlaskClient,
    session: Session,
    sealer: Sealer,
    product: Product,
    server_key: str,
) -> None:
    """The customer's identity and what the license's instances reported stay home."""
    customer = factories.make_customer(
        session,
        name="Grace Brewster Hopper",
        email="grace.hopper@customer-secret.example",
        company="Secret Navy Computing Ltd",
    )
    edition = factories.make_edition(session, product=product, max_activations=2)
    issued = factories.make_license(session, sealer, edition=edition, customer=customer)
    licensed = Licensed(
        license=issued.license,
        product=product,
        edition=edition,
        key=issued.key.display,
        credentials=Credentials.from_license_key(issued.key.display),
    )
    session.commit()
    reported = [
        ("mx7.grace-private.example", "203.0.113.77"),
        ("backup-host.grace-private.example", "2001:db8:77::42"),
    ]
    for server_name, address in reported:
        instance = Instance(
            client=client,
            licensed=licensed,
            server_name=server_name,
            environ={"REMOTE_ADDR": address},
        )
        assert instance.activate().status == 201
        assert instance.check_in().status == 200
    seller = register(client, session, sealer, products=[product])

    response = seller.check(issued.key.display, "2.0.0")

    body = answer(response)
    assert body["license"]["activations"] == {"used": 2, "allowed": 2}
    text = response.get_data(as_text=True)
    secrets = [
        customer.name,
        "Hopper",
        customer.email,
        "customer-secret",
        customer.company,
        str(customer.id),
        str(issued.license.id),
        issued.key.display,
        issued.key.normalised,
    ]
    for server_name, address in reported:
        secrets += [server_name, "grace-private", address]
    leaked = [secret for secret in secrets if secret and secret.lower() in text.lower()]
    assert leaked == [], text
    assert all(name in LICENSE_FIELDS for name in body["license"])


# --- upgrade eligibility ---------------------------------------------------------------------


def upgrade(seller: PartnerApi, key: str, target: str) -> dict[str, Any]:
    body = answer(seller.check(key, target))
    result: dict[str, Any] = body["upgrade"]
    return result


@pytest.mark.parametrize(
    ("target", "eligible", "reason"),
    [
        ("2.9.0", True, "COVERED"),
        ("3.0.0", True, "COVERED"),  # released the day before protection ended
        ("3.1.0", True, "COVERED"),  # released exactly when protection ended
        ("3.2.0", False, "PROTECTION_EXPIRED"),  # a second later
        ("4.0.0", False, "PROTECTION_EXPIRED"),
    ],
)
def test_a_release_is_covered_when_released_on_or_before_the_end_of_protection(
    seller: PartnerApi, issued: IssuedLicense, target: str, eligible: bool, reason: str
) -> None:
    assert upgrade(seller, issued.key.display, target) == {
        "target_version": target,
        "eligible": eligible,
        "reason": reason,
        "latest_eligible_version": "3.1.0",
        "renewal_required": not eligible,
    }


def test_an_unknown_release_is_not_eligible(seller: PartnerApi, issued: IssuedLicense) -> None:
    # 3.0.5 sorts between covered releases, but nothing says it exists.
    for target in ("3.0.5", "9.9.9"):
        assert upgrade(seller, issued.key.display, target) == {
            "target_version": target,
            "eligible": False,
            "reason": "UNKNOWN_RELEASE",
            "latest_eligible_version": "3.1.0",
            "renewal_required": False,
        }


def test_without_an_end_to_protection_every_release_is_covered(
    seller: PartnerApi, session: Session, sealer: Sealer, catalog_product: Product
) -> None:
    issued = issue(session, sealer, catalog_product, protection_until=None)

    for version, _ in RELEASES:
        result = upgrade(seller, issued.key.display, version)
        assert (result["eligible"], result["reason"]) == (True, "COVERED")
        assert (result["latest_eligible_version"], result["renewal_required"]) == ("4.0.0", False)
    assert answer(seller.check(issued.key.display))["license"]["upgrade_protection_until"] is None


def test_when_protection_ended_before_every_release_nothing_is_eligible(
    seller: PartnerApi, session: Session, sealer: Sealer, catalog_product: Product
) -> None:
    issued = issue(session, sealer, catalog_product, protection_until=END - timedelta(days=500))

    result = upgrade(seller, issued.key.display, "2.9.0")

    assert result == {
        "target_version": "2.9.0",
        "eligible": False,
        "reason": "PROTECTION_EXPIRED",
        "latest_eligible_version": None,
        "renewal_required": True,
    }


def _suspend(session: Session, license: License) -> None:
    licenses.suspend(session, license, reason="unpaid invoice", actor="test:pytest")


def _revoke(session: Session, license: License) -> None:
    licenses.revoke(session, license, reason="chargeback", actor="test:pytest", four_eyes=False)


def _expire(session: Session, license: License) -> None:
    license.expires_at = datetime.now(UTC) - timedelta(seconds=1)


@pytest.mark.parametrize(
    ("change", "status", "code"),
    [
        (_suspend, "suspended", "SUSPENDED"),
        (_revoke, "revoked", "REVOKED"),
        (_expire, "active", "EXPIRED"),
    ],
    ids=["suspended", "revoked", "expired"],
)
def test_an_invalid_license_covers_no_upgrade(
    seller: PartnerApi,
    issued: IssuedLicense,
    session: Session,
    change: Any,
    status: str,
    code: str,
) -> None:
    change(session, issued.license)
    session.commit()

    body = answer(seller.check(issued.key.display, "3.0.0"))

    license = body["license"]
    assert (license["status"], license["valid"], license["code"]) == (status, False, code)
    assert body["upgrade"] == {
        "target_version": "3.0.0",
        "eligible": False,
        "reason": "LICENSE_INVALID",
        "latest_eligible_version": "3.1.0",
        "renewal_required": False,
    }
    # An invalid license is still an answer about it, so it is disclosed.
    assert disclosure_count(session) == 1


# --- validation: 422 before anything is looked up --------------------------------------------


@pytest.fixture
def license_statements(app: Any) -> Iterator[list[str]]:
    """Every SQL statement that reads or writes the licenses table from now on."""
    seen: list[str] = []

    def record(conn: Any, cursor: Any, statement: str, *args: Any) -> None:
        if re.search(r"\blicenses\b", statement):
            seen.append(statement)

    event.listen(db.engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(db.engine, "before_cursor_execute", record)


def _mistyped(key: str) -> str:
    """``key`` with its check symbol replaced (one mistyped symbol)."""
    last = key[-1]
    return key[:-1] + next(s for s in license_keys.ALPHABET if s != last)


MALFORMED = {
    "too short": lambda key: key[:23],
    "too long": lambda key: key + "-00000",
    "mistyped check symbol": _mistyped,
    "not a key symbol": lambda key: key[:-1] + "!",
    "U is not a symbol": lambda key: key[:-1] + "U",
    "not ASCII": lambda key: key[:-1] + "Ü",
    "empty": lambda key: "",
    "longer than any key": lambda key: "0" * 65,
}


@pytest.mark.parametrize("case", MALFORMED, ids=list(MALFORMED))
def test_a_malformed_key_is_422_and_never_looked_up(
    seller: PartnerApi, issued: IssuedLicense, license_statements: list[str], case: str
) -> None:
    response = seller.check(MALFORMED[case](issued.key.display), "3.0.0")

    body = problem(response, 422, "INVALID_REQUEST")
    assert isinstance(body["errors"]["license_key"], list)
    assert body["errors"]["license_key"]
    assert license_statements == []


def test_a_well_formed_unknown_key_is_looked_up(
    seller: PartnerApi, license_statements: list[str]
) -> None:
    """The control for the test above: a lookup would have been seen."""
    problem(seller.check(license_keys.generate().display), 404, "LICENSE_NOT_FOUND")

    assert license_statements != []


def test_the_key_is_normalised_before_the_lookup(seller: PartnerApi, issued: IssuedLicense) -> None:
    expected = answer(seller.check(issued.key.display))
    normalised = issued.key.normalised
    spellings = [
        normalised,
        normalised.lower(),
        " ".join(normalised[i : i + 5] for i in range(0, 25, 5)),
        issued.key.display.replace("0", "O").replace("1", "l"),
        issued.key.display.lower().replace("1", "i"),
        # 93 characters (far past the 29 of the display form) that normalise to the key.
        "  ".join(" - ".join(normalised[i : i + 5]) for i in range(0, 25, 5)),
    ]
    for spelling in spellings:
        assert answer(seller.check(spelling)) == expected, spelling


def test_a_null_target_version_is_read_as_absent(seller: PartnerApi, issued: IssuedLicense) -> None:
    body = {"license_key": issued.key.display, "target_version": None}
    assert answer(seller.check(body=body)) == answer(seller.check(issued.key.display))


@pytest.mark.parametrize("target", ["not a version", "2.x", "3.0.0-", "", "1" * 65])
def test_a_bad_target_version_is_422(
    seller: PartnerApi, issued: IssuedLicense, session: Session, target: str
) -> None:
    body = problem(seller.check(issued.key.display, target), 422, "INVALID_REQUEST")

    assert list(body["errors"]) == ["target_version"]
    assert body["errors"]["target_version"]
    assert disclosure_count(session) == 0


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"target_version": "3.0.0"}, "license_key"),
        ({"license_key": 12345}, "license_key"),
        ({"license_key": None}, "license_key"),
        ({"license_key": "{key}", "target_version": 3}, "target_version"),
        ({"license_key": "{key}", "customer_email": "ada@example.com"}, "customer_email"),
        ({"license_key": "{key}", "purpose": "marketing"}, "purpose"),
    ],
)
def test_missing_wrong_or_unknown_fields_are_422(
    seller: PartnerApi,
    issued: IssuedLicense,
    session: Session,
    payload: dict[str, Any],
    field: str,
) -> None:
    body = {
        k: (v.format(key=issued.key.display) if isinstance(v, str) else v)
        for k, v in payload.items()
    }

    problem_body = problem(seller.check(body=body), 422, "INVALID_REQUEST")

    assert field in problem_body["errors"], problem_body
    assert all(isinstance(v, list) for v in problem_body["errors"].values())
    assert disclosure_count(session) == 0


@pytest.mark.parametrize("data", [b"[1, 2]", b"not json", b'"a string"'])
def test_a_body_that_is_not_an_object_is_422(
    seller: PartnerApi, client: FlaskClient, data: bytes
) -> None:
    response = client.post(
        "/v1/partner/license-checks",
        data=data,
        headers={**seller.authorization, "Content-Type": "application/json"},
    )

    problem(response, 422, "INVALID_REQUEST")


# --- releases ---------------------------------------------------------------------------------


def test_the_releases_of_a_registered_product_oldest_first(
    seller: PartnerApi, session: Session, catalog_product: Product
) -> None:
    # A backport released after a newer version, and an old release recorded last.
    factories.make_release(
        session, product=catalog_product, version="3.0.1", released_at=END + timedelta(days=2)
    )
    factories.make_release(
        session, product=catalog_product, version="1.0", released_at=END - timedelta(days=900)
    )
    session.commit()

    body = answer(seller.releases(catalog_product.code))

    expected = sorted(
        [
            *RELEASES,
            ("3.0.1", END + timedelta(days=2)),
            ("1.0", END - timedelta(days=900)),
        ],
        key=lambda release: release[1],
    )
    assert body == {
        "product": catalog_product.code,
        "releases": [
            {"version": version, "released_at": rfc3339(released_at)}
            for version, released_at in expected
        ],
    }
    assert [r["version"] for r in body["releases"]][-3:] == ["3.2.0", "3.0.1", "4.0.0"]


def test_a_registered_product_without_releases(
    seller: PartnerApi, session: Session, actor: str
) -> None:
    empty = factories.make_product(session)
    partners.add_product(session, seller.partner, empty.code, actor=actor)
    session.commit()

    assert answer(seller.releases(empty.code)) == {"product": empty.code, "releases": []}


def test_releases_disclose_nothing_about_licenses(
    seller: PartnerApi, session: Session, catalog_product: Product
) -> None:
    answer(seller.releases(catalog_product.code))

    assert disclosure_count(session) == 0
