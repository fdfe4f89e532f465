"""A license with usage worth showing: check-ins written by the check-in path itself,
an older pseudonymised day, a released seat, a case and a disclosure."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import timedelta

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer, hash_period
from licensing.models import Activation, License, UsageObservation
from licensing.models.misuse import MisuseCase
from licensing.privacy.pseudonymise import ip_hash, server_name_hash
from licensing.services import disclosures
from licensing.services.check_ins import record_check_in
from licensing.services.instance_reports import CheckIn
from licensing.timeutil import utcnow
from tests.factories import make_customer, make_license, make_partner

DAY = timedelta(days=1)
EMAIL = "Ada.Console@Example.org"
SERVER = "mail-7.example.net"
IP = "203.0.113.9"
NETWORK = "203.0.113.0/24"
OLD_SERVER = "old-box.example.org"  # 45 days ago, pseudonymised: only its hash is left
OLD_IP = "198.51.100.23"
OLD_NETWORK = "198.51.100.0/24"
PARTNER = "Hosting Partner GmbH"


@dataclasses.dataclass
class Seeded:
    license: License
    key: str  # the full key as the customer holds it: never shown on a page
    live: Activation
    released: Activation
    case: MisuseCase


def seat(session: Session, license: License, server: str, *, released: bool = False) -> Activation:
    now = utcnow()
    activation = Activation(
        license_id=license.id,
        fingerprint=uuid.uuid4().hex,
        server_name=server,
        product_version="2.0.0",
        platform="linux-x86_64",
        activated_at=now - 60 * DAY,
        last_check_in_at=now - (50 * DAY if released else DAY),
        status="released" if released else "active",
        released_at=now - 50 * DAY if released else None,
        release_reason="migration" if released else None,
    )
    session.add(activation)
    session.flush()
    return activation


def check_in(
    session: Session, sealer: Sealer, license: License, activation: Activation, *, ip: str
) -> None:
    assert activation.server_name is not None
    report = CheckIn(
        activation_id=activation.id,
        fingerprint=None,
        server_name=activation.server_name,
        product_version="2.0.0",
        usage={},
        ip=ip,
    )
    record_check_in(
        session,
        sealer,
        license_id=license.id,
        processing_restricted=False,
        report=report,
        now=utcnow(),
    )


def seed(session: Session, sealer: Sealer, *, name: str = "Ada Console") -> Seeded:
    issued = make_license(
        session,
        sealer,
        customer=make_customer(session, name=name, email=f"{uuid.uuid4().hex[:6]}.{EMAIL}"),
        expires_at=utcnow() + 100 * DAY,
    )
    license = issued.license
    live = seat(session, license, SERVER)
    check_in(session, sealer, license, live, ip=IP)
    check_in(session, sealer, license, live, ip=IP)
    released = seat(session, license, OLD_SERVER, released=True)
    then = utcnow() - 45 * DAY
    session.add(
        UsageObservation(
            activation_id=released.id,
            license_id=license.id,
            day=then.date(),
            observation_key=sealer.period_keyed_hash(
                "observation", hash_period(then.date()), uuid.uuid4().bytes
            ),
            ip=None,
            ip_hash=ip_hash(sealer, OLD_IP, period=hash_period(then.date())),
            ip_prefix=OLD_NETWORK,
            server_name=None,
            server_name_hash=server_name_hash(sealer, OLD_SERVER, period=hash_period(then.date())),
            product_version="2.0.0",
            count=5,
            first_seen=then,
            last_seen=then,
            pseudonymised_at=utcnow() - 10 * DAY,
        )
    )
    case = MisuseCase(
        license_id=license.id,
        rule="SERVER_SPREAD",
        severity="medium",
        status="open",
        summary="seeded",
        evidence={},
        first_seen=utcnow() - 2 * DAY,
        last_seen=utcnow() - DAY,
    )
    session.add(case)
    partner = make_partner(session, name=f"{PARTNER} {uuid.uuid4().hex[:4]}")
    disclosures.record(
        session,
        partner_id=partner.id,
        partner_key_id="pk_test",
        partner_kind="reseller",
        license_id=license.id,
        answer={"license": {"status": "active"}},
        purpose="upgrade_check",
        request_id="req-1",
        now=utcnow(),
    )
    session.commit()
    return Seeded(license, issued.key.display, live, released, case)
