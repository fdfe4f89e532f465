"""Activation and deactivation (PROTOCOL.md §5), verdict order, and leases (§4)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import jwt
import pytest
from flask import Flask
from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.lease_ids import lease_id_verifies
from licensing.crypto.sealing import Sealer
from licensing.models import Activation, License
from licensing.runtime import EXTENSION_KEY
from licensing.services import licenses
from tests.functional.conftest import MakeLicensed
from tests.functional.instance_client import Answer, Instance, Licensed, parse_time, rfc3339
from tests.signing import verify_lease

# Released 2024-01-15 (1.0.0) and 2025-06-01 (2.0.0); see the conftest.
BEFORE_2_0 = datetime(2025, 1, 1, tzinfo=UTC)


def live_activations(session: Session, licensed: Licensed) -> list[Activation]:
    session.expire_all()
    return list(
        session.scalars(
            select(Activation).where(
                Activation.license_id == licensed.license.id, Activation.status == "active"
            )
        )
    )


def issuer(app: Flask) -> str:
    return str(app.extensions[EXTENSION_KEY].settings.issuer)


def refused(answer: Answer, code: str) -> None:
    assert (answer.status, answer.code) == (403, code), answer.body
    assert "license" not in answer.body  # decision 12: problem members only


# --- activation --------------------------------------------------------------------------------


def test_a_new_activation_is_201_with_the_documented_body(
    instance: Instance, licensed: Licensed
) -> None:
    answer = instance.activate()

    assert answer.status == 201
    body = answer.body
    assert set(body) >= {
        "valid",
        "code",
        "activation",
        "license",
        "lease",
        "next_check_in_at",
        "nonce",
        "server_time",
    }
    assert (body["valid"], body["code"]) == (True, "VALID")
    activation = body["activation"]
    assert set(activation) == {"id", "fingerprint", "server_name", "activated_at"}
    assert str(uuid.UUID(activation["id"])) == activation["id"]
    assert (activation["fingerprint"], activation["server_name"]) == (
        instance.fingerprint,
        instance.server_name,
    )
    assert activation["activated_at"] == body["server_time"]
    license = licensed.license
    assert body["license"] == {
        "id": str(license.id),
        "product": licensed.product.code,
        "edition": licensed.edition.code,
        "status": "active",
        "expires_at": None,
        "upgrade_protection_until": rfc3339(license.upgrade_protection_until),
        "entitlements": ["archive", "webmail"],
        "activations": {"used": 1, "allowed": 1},
    }
    # Decision 7: the edition's interval (24 h by default) after the answer's time.
    assert parse_time(body["next_check_in_at"]) - parse_time(body["server_time"]) == timedelta(
        hours=24
    )


def test_activating_the_same_fingerprint_again_is_200_with_the_same_id(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    first = instance.activate()
    again = instance.activate(server_name="mail01-renamed.example.com")

    assert (first.status, again.status) == (201, 200)
    assert again.body["activation"]["id"] == first.body["activation"]["id"]
    assert again.body["activation"]["activated_at"] == first.body["activation"]["activated_at"]
    assert again.body["activation"]["server_name"] == "mail01-renamed.example.com"
    assert again.body["license"]["activations"] == {"used": 1, "allowed": 1}
    assert len(live_activations(session, licensed)) == 1


def test_activating_again_is_200_even_when_the_license_is_full(
    instance: Instance, make_licensed: MakeLicensed, session: Session
) -> None:
    full = instance.other(licensed=make_licensed(max_activations=1, migration_allowance=0))
    first = full.activate()
    refused(full.other().activate(), "TOO_MANY_ACTIVATIONS")

    again = full.activate()
    assert (first.status, again.status) == (201, 200)
    assert again.body["activation"]["id"] == first.body["activation"]["id"]
    assert again.body["license"]["activations"] == {"used": 1, "allowed": 1}
    assert len(live_activations(session, full.licensed)) == 1


def test_the_migration_allowance_gives_one_more_seat_then_refuses(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    first = instance.activate()
    second = instance.other().activate()
    third = instance.other().activate()

    assert (first.status, second.status) == (201, 201)
    assert "migration_until" not in first.body["license"]["activations"]
    seats = second.body["license"]["activations"]
    assert (seats["used"], seats["allowed"]) == (2, 1)
    # Decision 6: the default migration window is 30 days.
    assert parse_time(seats["migration_until"]) - parse_time(second.body["server_time"]) == (
        timedelta(days=30)
    )
    refused(third, "TOO_MANY_ACTIVATIONS")
    assert len(live_activations(session, licensed)) == 2
    # The first instance's idempotent re-activation still works while full.
    assert instance.activate().status == 200


def test_without_a_migration_allowance_the_second_instance_is_refused(
    instance: Instance, make_licensed: MakeLicensed, session: Session
) -> None:
    strict = instance.other(licensed=make_licensed(migration_allowance=0))
    assert strict.activate().status == 201
    refused(strict.other().activate(), "TOO_MANY_ACTIVATIONS")
    assert len(live_activations(session, strict.licensed)) == 1


def test_more_seats_mean_more_activations(instance: Instance, make_licensed: MakeLicensed) -> None:
    three = instance.other(licensed=make_licensed(max_activations=3, migration_allowance=0))
    statuses = [three.other().activate().status for _ in range(4)]
    assert statuses == [201, 201, 201, 403]


# --- verdict order ---------------------------------------------------------------------------


def _revoke(session: Session, license: License) -> None:
    licenses.revoke(session, license, reason="chargeback", actor="test:pytest", four_eyes=False)


def _suspend(session: Session, license: License) -> None:
    licenses.suspend(session, license, reason="unpaid", actor="test:pytest")


def _expire(session: Session, license: License) -> None:
    license.expires_at = datetime.now(UTC) - timedelta(seconds=1)


def _end_protection(session: Session, license: License) -> None:
    license.upgrade_protection_until = BEFORE_2_0


Change = Callable[[Session, License], None]
# Each case has every later reason too (and the license is full): the first one wins.
VERDICTS: dict[str, tuple[tuple[Change, ...], str]] = {
    "REVOKED": ((_revoke, _expire, _end_protection), "another-product"),
    "SUSPENDED": ((_suspend, _expire, _end_protection), "another-product"),
    "PRODUCT_MISMATCH": ((_expire, _end_protection), "another-product"),
    "EXPIRED": ((_expire, _end_protection), ""),
    "VERSION_NOT_COVERED": ((_end_protection,), ""),
}


@pytest.mark.parametrize("code", VERDICTS)
def test_verdicts_are_checked_in_the_contracts_order(
    instance: Instance, make_licensed: MakeLicensed, session: Session, code: str
) -> None:
    changes, product = VERDICTS[code]
    full = instance.other(licensed=make_licensed(migration_allowance=0))
    assert full.other(version="1.0.0").activate().status == 201  # the only seat
    for change in changes:
        change(session, full.licensed.license)
    session.flush()

    answer = full.other().activate(**({"product": product} if product else {}))

    refused(answer, code)
    assert len(live_activations(session, full.licensed)) == 1


def test_a_license_expiring_this_second_is_expired(
    instance: Instance, licensed: Licensed, session: Session, frozen_now: int
) -> None:
    licensed.license.expires_at = datetime.fromtimestamp(frozen_now, UTC)
    session.flush()
    refused(instance.activate(sign_options={"created": frozen_now}), "EXPIRED")


@pytest.mark.parametrize(
    ("version", "covered"),
    [
        ("2.0.0", False),  # released after protection ended
        ("2.0", False),  # the same release, spelled differently (PEP 440)
        ("1.0.0", True),  # released before
        ("1.0.1", False),  # unknown, newer than the newest covered release (1.0.0)
        ("3.0.0", False),  # unknown, newer than every release
        ("0.9.0", True),  # unknown, older: covered
        ("1.0.0-rc.1", True),  # semver pre-release of a covered release: older
    ],
)
def test_version_coverage_follows_the_release_dates(
    instance: Instance, licensed: Licensed, session: Session, version: str, covered: bool
) -> None:
    licensed.license.upgrade_protection_until = BEFORE_2_0
    session.flush()
    answer = instance.activate(product_version=version)
    if covered:
        assert answer.status == 201, answer.body
    else:
        refused(answer, "VERSION_NOT_COVERED")


def test_a_release_on_the_day_protection_ends_is_covered(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    licensed.license.upgrade_protection_until = datetime(2025, 6, 1, tzinfo=UTC)
    session.flush()
    assert instance.activate(product_version="2.0.0").status == 201
    licensed.license.upgrade_protection_until = datetime(2025, 5, 31, 23, 59, 59, tzinfo=UTC)
    session.flush()
    refused(instance.other().activate(product_version="2.0.0"), "VERSION_NOT_COVERED")


# --- leases ----------------------------------------------------------------------------------


def test_the_lease_carries_the_contracts_claims(
    app: Flask, instance: Instance, licensed: Licensed, server_key: str, sealer: Sealer
) -> None:
    answer = instance.activate()
    lease = answer.body["lease"]

    header = jwt.get_unverified_header(lease)
    assert header == {"alg": "EdDSA", "kid": server_key, "typ": "license-lease+jwt"}
    claims = verify_lease(
        lease,
        instance.jwks(),
        product=licensed.product.code,
        issuer=issuer(app),
        fingerprint=instance.fingerprint,
    )
    assert claims["sub"] == str(licensed.license.id)
    assert claims["aud"] == licensed.product.code
    assert claims["act"] == answer.body["activation"]["id"]
    # Opaque to clients; bound to the activation it was issued to (crypto/lease_ids.py).
    assert lease_id_verifies(
        sealer,
        claims["jti"],
        license_id=licensed.license.id,
        activation_id=uuid.UUID(claims["act"]),
        fingerprint=instance.fingerprint,
    )
    assert len(claims["jti"]) <= 64
    assert claims["iat"] == claims["nbf"]
    assert abs(claims["iat"] - parse_time(answer.body["server_time"]).timestamp()) <= 1
    assert claims["exp"] - claims["iat"] == 7 * 86_400  # default offline grace
    # ent/lst/lexp/upg equal the license object of the same answer.
    license = answer.body["license"]
    assert claims["ent"] == license["entitlements"]
    assert claims["lst"] == license["status"] == "active"
    assert "lexp" in claims
    assert claims["lexp"] == license["expires_at"]
    assert claims["lexp"] is None
    assert claims["upg"] == license["upgrade_protection_until"]


def test_the_lease_is_bound_to_the_fingerprint(
    app: Flask, instance: Instance, licensed: Licensed
) -> None:
    lease = instance.activate().body["lease"]
    with pytest.raises(AssertionError, match="another instance"):
        verify_lease(
            lease,
            instance.jwks(),
            product=licensed.product.code,
            issuer=issuer(app),
            fingerprint=instance.other().fingerprint,
        )
    with pytest.raises(jwt.InvalidAudienceError):
        verify_lease(
            lease,
            instance.jwks(),
            product="another-product",
            issuer=issuer(app),
            fingerprint=instance.fingerprint,
        )


def test_the_lease_never_outlives_the_license(
    app: Flask, instance: Instance, make_licensed: MakeLicensed
) -> None:
    expires = (datetime.now(UTC) + timedelta(days=2)).replace(microsecond=0)
    term = instance.other(licensed=make_licensed(expires_at=expires))
    answer = term.activate()

    claims = verify_lease(
        answer.body["lease"],
        term.jwks(),
        product=term.licensed.product.code,
        issuer=issuer(app),
        fingerprint=term.fingerprint,
    )
    assert claims["exp"] == int(expires.timestamp())
    assert claims["lexp"] == answer.body["license"]["expires_at"] == rfc3339(expires)


def test_the_lease_follows_the_editions_offline_grace(
    app: Flask, instance: Instance, make_licensed: MakeLicensed
) -> None:
    short = instance.other(licensed=make_licensed(offline_grace_days=3, entitlements=()))
    answer = short.activate()
    claims = jwt.decode(answer.body["lease"], options={"verify_signature": False})
    assert claims["exp"] - claims["iat"] == 3 * 86_400
    assert claims["ent"] == answer.body["license"]["entitlements"] == []


def test_each_lease_has_its_own_id(instance: Instance) -> None:
    first = jwt.decode(instance.activate().body["lease"], options={"verify_signature": False})
    second = jwt.decode(instance.activate().body["lease"], options={"verify_signature": False})
    assert first["act"] == second["act"]
    assert first["jti"] != second["jti"]


# --- deactivation ----------------------------------------------------------------------------


def test_deactivation_releases_the_seat_then_answers_not_activated(
    instance: Instance, licensed: Licensed, session: Session
) -> None:
    activation_id = instance.activate().body["activation"]["id"]

    released = instance.deactivate(activation_id)
    again = instance.deactivate(activation_id)

    assert released.status == 200
    assert released.body["code"] == "DEACTIVATED"
    assert (again.status, again.code) == (404, "NOT_ACTIVATED")
    assert live_activations(session, licensed) == []
    check_in = instance.check_in()
    assert (check_in.status, check_in.code) == (404, "NOT_ACTIVATED")


def test_a_released_fingerprint_activates_anew(instance: Instance) -> None:
    first = instance.activate().body["activation"]["id"]
    assert instance.deactivate(first).status == 200
    again = instance.activate()
    assert again.status == 201
    assert again.body["activation"]["id"] != first
    assert again.body["license"]["activations"]["used"] == 1


def test_a_released_seat_can_be_taken_by_another_instance(
    instance: Instance, make_licensed: MakeLicensed
) -> None:
    strict = instance.other(licensed=make_licensed(migration_allowance=0))
    first = strict.activate().body["activation"]["id"]
    refused(strict.other().activate(), "TOO_MANY_ACTIVATIONS")
    assert strict.deactivate(first).status == 200
    assert strict.other().activate().status == 201


def test_an_unknown_activation_is_not_activated(instance: Instance) -> None:
    answer = instance.deactivate(str(uuid.uuid4()))
    assert (answer.status, answer.code) == (404, "NOT_ACTIVATED")


def test_an_activation_of_another_license_is_not_activated(
    instance: Instance, make_licensed: MakeLicensed, session: Session
) -> None:
    neighbour = instance.other(licensed=make_licensed())
    theirs = neighbour.activate().body["activation"]["id"]

    answer = instance.deactivate(theirs)

    assert (answer.status, answer.code) == (404, "NOT_ACTIVATED")
    assert [str(a.id) for a in live_activations(session, neighbour.licensed)] == [theirs]
