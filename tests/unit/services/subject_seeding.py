"""Two data subjects with a row in every table that can hold data about a customer."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer, hash_period
from licensing.models import (
    Activation,
    Customer,
    Disclosure,
    LeasePresentation,
    License,
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    Partner,
    PrivacyRequest,
    PrivacyRequestKind,
    SignatureFailure,
    UsageObservation,
)
from licensing.privacy.pseudonymise import ip_hash, ip_network_prefix, server_name_hash
from licensing.services import privacy_requests
from tests.factories import make_customer, make_license, make_partner, unique

NOW = datetime(2026, 11, 20, 12, tzinfo=UTC)
VERIFIED = "reply from the licensed e-mail address"


@dataclass
class Subject:
    customer: Customer
    license: License
    activation: Activation
    ip: str
    server_name: str
    partner: Partner
    case: MisuseCase


def seed_subject(
    session: Session, sealer: Sealer, *, name: str, ip: str, server_name: str
) -> Subject:
    """A customer with a license, an activation, raw and pseudonymised usage, a lease
    presentation, a misuse case with an event, an exception, a signature failure, a
    disclosure to a partner and a closed privacy request."""
    customer = make_customer(session, name=name, email=f"{unique('subject')}@example.com")
    license = make_license(session, sealer, customer=customer).license
    activation = Activation(
        license_id=license.id,
        fingerprint=uuid.uuid4().hex,
        server_name=server_name,
        product_version="2.0.0",
        status="active",
        activated_at=NOW - timedelta(days=40),
        last_check_in_at=NOW,
    )
    session.add(activation)
    session.flush()
    raw = UsageObservation(
        activation_id=activation.id,
        license_id=license.id,
        day=NOW.date(),
        observation_key=sealer.keyed_hash("observation", uuid.uuid4().bytes),
        ip=ip,
        ip_hash=ip_hash(sealer, ip, period=hash_period(NOW.date())),
        ip_prefix=ip_network_prefix(ip),
        server_name=server_name,
        server_name_hash=server_name_hash(sealer, server_name, period=hash_period(NOW.date())),
        product_version="2.0.0",
        first_seen=NOW,
        last_seen=NOW,
        usage={"mailboxes": 3},
    )
    # Past its raw period: only the hashes and the network are left.
    earlier = (NOW - timedelta(days=35)).date()
    pseudonymised = UsageObservation(
        activation_id=activation.id,
        license_id=license.id,
        day=earlier,
        observation_key=sealer.keyed_hash("observation", uuid.uuid4().bytes),
        ip=None,
        ip_hash=ip_hash(sealer, ip, period=hash_period(earlier)),
        ip_prefix=ip_network_prefix(ip),
        server_name=None,
        server_name_hash=server_name_hash(sealer, server_name, period=hash_period(earlier)),
        product_version="2.0.0",
        first_seen=NOW - timedelta(days=35),
        last_seen=NOW - timedelta(days=35),
        pseudonymised_at=NOW - timedelta(days=4),
    )
    case = MisuseCase(
        license_id=license.id,
        rule="SERVER_SPREAD",
        severity="medium",
        status="open",
        summary="seeded",
        evidence={"servers": 9},
        first_seen=NOW - timedelta(days=2),
        last_seen=NOW,
    )
    session.add_all([raw, pseudonymised, case])
    session.flush()
    partner = make_partner(session)
    session.add_all(
        [
            LeasePresentation(
                license_id=license.id,
                activation_id=activation.id,
                presented_jti=uuid.uuid4().hex,
                newest_jti=uuid.uuid4().hex,
                at=NOW,
                ip_prefix=ip_network_prefix(ip),
                ip_hash=ip_hash(sealer, ip, period=hash_period(NOW.date())),
            ),
            MisuseCaseEvent(case_id=case.id, actor="staff:x", kind="note", detail={"text": "n"}),
            MisuseException(
                license_id=license.id,
                rule="NETWORK_SPREAD",
                kind="nat",
                reason="office NAT",
                declared_by="staff:x",
                ends_at=NOW + timedelta(days=30),
            ),
            SignatureFailure(key_id=license.key_id, bucket_start=NOW, count=3),
            Disclosure(
                partner_id=partner.id,
                license_id=license.id,
                partner_key_id="pk_test",
                fields=["status", "upgrade_protection_until"],
                purpose="upgrade_check",
                request_id=uuid.uuid4().hex,
                disclosed_at=NOW - timedelta(days=1),
            ),
        ]
    )
    earlier = privacy_requests.record(
        session,
        kind=PrivacyRequestKind.ACCESS,
        customer_id=customer.id,
        received_at=NOW - timedelta(days=300),
        identity_verification=VERIFIED,
        actor="test:pytest",
        now=NOW - timedelta(days=300),
    )
    privacy_requests.complete(
        session, earlier, outcome="exported", actor="test:pytest", now=NOW - timedelta(days=290)
    )
    session.flush()
    return Subject(customer, license, activation, ip, server_name, partner, case)


def open_request(
    session: Session, kind: PrivacyRequestKind, customer: Customer | None
) -> PrivacyRequest:
    return privacy_requests.record(
        session,
        kind=kind,
        customer_id=customer.id if customer else None,
        received_at=NOW - timedelta(days=2),
        identity_verification=VERIFIED,
        actor="test:pytest",
        now=NOW,
    )
