"""Restriction through the instance API: restricted instances keep being verified, and
their check-ins and activations store no IP address, no server name, no hash or network
of either and no usage counters; once the restriction is lifted, check-ins store them
again."""

from __future__ import annotations

from datetime import UTC, datetime

import jwt
from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import (
    Activation,
    Customer,
    LeasePresentation,
    PrivacyRequestKind,
    UsageObservation,
)
from licensing.privacy.pseudonymise import (
    IP_HASH_PURPOSE,
    SERVER_NAME_HASH_PURPOSE,
    ip_hashes,
    ip_network_prefix,
    server_name_hashes,
)
from licensing.services import privacy_requests, processing_restriction
from licensing.services.hash_key_periods import stored_period_keys
from licensing.timeutil import utcnow
from tests.functional.instance_client import Answer, Instance, Licensed

BEFORE = "192.0.2.44"
AFTER = "198.51.100.20"
SECRET_SERVER = "secret-host.example.net"


def jti(answer: Answer) -> str:
    value: str = jwt.decode(answer.body["lease"], options={"verify_signature": False})["jti"]
    return value


def _served(session: Session, customer: Customer, kind: PrivacyRequestKind) -> None:
    now = utcnow()
    request = privacy_requests.record(
        session,
        kind=kind,
        customer_id=customer.id,
        received_at=datetime(2026, 1, 5, tzinfo=UTC),
        identity_verification="signed letter on the customer's letterhead",
        actor="test:pytest",
        now=now,
    )
    if kind is PrivacyRequestKind.LIFT_RESTRICTION:
        processing_restriction.lift(session, request.id, actor="test:pytest", now=now)
    else:
        processing_restriction.restrict(session, request.id, actor="test:pytest", now=now)
    session.commit()


def _traces_of(session: Session, sealer: Sealer, address: str, server: str) -> list[object]:
    """Every stored row holding the address or the server name, raw, hashed or as a network."""
    session.expire_all()
    hashed_ips = ip_hashes(sealer, address, stored_period_keys(session, IP_HASH_PURPOSE))
    hashed_servers = server_name_hashes(
        sealer, server, stored_period_keys(session, SERVER_NAME_HASH_PURPOSE)
    )
    network = ip_network_prefix(address)
    observations = session.scalars(
        select(UsageObservation).where(
            or_(
                UsageObservation.ip == address,
                UsageObservation.ip_hash.in_(hashed_ips),
                UsageObservation.ip_prefix == network,
                UsageObservation.server_name == server,
                UsageObservation.server_name_hash.in_(hashed_servers),
            )
        )
    )
    presentations = session.scalars(
        select(LeasePresentation).where(
            or_(LeasePresentation.ip_hash.in_(hashed_ips), LeasePresentation.ip_prefix == network)
        )
    )
    activations = session.scalars(select(Activation).where(Activation.server_name == server))
    return [*observations, *presentations, *activations]


def test_restricted_check_ins_are_verified_and_store_no_address_or_server_name(
    instance: Instance, licensed: Licensed, session: Session, sealer: Sealer
) -> None:
    instance.environ["REMOTE_ADDR"] = BEFORE
    first = instance.activate()
    assert first.status == 201
    assert instance.check_in().code == "VALID"
    _served(session, licensed.license.customer, PrivacyRequestKind.RESTRICTION)

    instance.environ["REMOTE_ADDR"] = AFTER
    moved = instance.other(fingerprint=instance.fingerprint, server_name=SECRET_SERVER)
    # A check-in presenting a superseded lease would record a lease presentation.
    answers = [
        moved.check_in(usage={"mailboxes": 9}),
        moved.check_in(lease_jti=jti(first), usage={"mailboxes": 10}),
    ]
    second = instance.other(server_name=SECRET_SERVER)
    second.environ["REMOTE_ADDR"] = AFTER
    activated = second.activate()

    assert [a.code for a in answers] == ["VALID", "VALID"]
    assert activated.status == 201 and activated.body["activation"]["server_name"] is None
    assert _traces_of(session, sealer, AFTER, SECRET_SERVER) == []
    restricted_rows = session.scalars(
        select(UsageObservation).where(
            UsageObservation.license_id == licensed.license.id, UsageObservation.ip.is_(None)
        )
    ).all()
    assert restricted_rows, "the restricted check-ins still count as usage"
    for row in restricted_rows:
        assert (row.ip_hash, row.ip_prefix, row.server_name, row.server_name_hash) == (
            None,
            None,
            None,
            None,
        )
        # Verification needs no usage counters: the activation's and check-ins' are dropped.
        assert row.usage == {}
    presented = session.scalars(
        select(LeasePresentation).where(LeasePresentation.license_id == licensed.license.id)
    ).all()
    assert presented and all(p.ip_prefix is None and p.ip_hash is None for p in presented)
    # What was stored before the restriction stays (restriction is not erasure).
    assert _traces_of(session, sealer, BEFORE, instance.server_name)


def test_after_lifting_check_ins_store_again(
    instance: Instance, licensed: Licensed, session: Session, sealer: Sealer
) -> None:
    instance.environ["REMOTE_ADDR"] = BEFORE
    assert instance.activate().status == 201
    customer = licensed.license.customer
    _served(session, customer, PrivacyRequestKind.OBJECTION)
    instance.environ["REMOTE_ADDR"] = AFTER
    moved = instance.other(fingerprint=instance.fingerprint, server_name=SECRET_SERVER)
    assert moved.check_in(usage={"mailboxes": 9}).code == "VALID"
    assert _traces_of(session, sealer, AFTER, SECRET_SERVER) == []
    [restricted] = session.scalars(
        select(UsageObservation).where(
            UsageObservation.license_id == licensed.license.id, UsageObservation.ip.is_(None)
        )
    ).all()
    assert restricted.usage == {}

    _served(session, customer, PrivacyRequestKind.LIFT_RESTRICTION)
    assert moved.check_in(usage={"mailboxes": 11}).code == "VALID"

    traces = _traces_of(session, sealer, AFTER, SECRET_SERVER)
    [stored] = [t for t in traces if isinstance(t, UsageObservation) and t.ip == AFTER]
    assert stored.usage == {"mailboxes": 11}  # the counters are stored again
    assert any(isinstance(t, Activation) for t in traces)
    lifted = privacy_requests.list_requests(session, customer_id=customer.id)
    assert {r.kind for r in lifted} == {"objection", "lift_restriction"}
    assert all(r.status == "completed" for r in lifted)
