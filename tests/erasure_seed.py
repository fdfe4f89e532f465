"""A customer with something in every table erasure changes, for the erasure tests."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime

from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import (
    Customer,
    Disclosure,
    HoldScope,
    LeasePresentation,
    LegalHold,
    License,
    MisuseCase,
    MisuseCaseEvent,
    MisuseException,
    PrivacyRequest,
    PrivacyRequestKind,
    ReplayNonce,
    SignatureFailure,
)
from licensing.services import privacy_requests
from tests.factories import make_customer, make_license, make_partner
from tests.usage_rows import make_seat, observe

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
ACTOR = "test:erasure"


@dataclass
class Seeded:
    customer: Customer
    licenses: list[License]
    email: str
    name: str
    servers: list[str]


def seed_customer(
    session: Session, sealer: Sealer, *, tag: str, licenses: int = 2, with_partner: bool = True
) -> Seeded:
    """A customer named after ``tag`` with ``licenses`` licenses, each with two servers'
    activations and usage, a lease presentation, a nonce, signature failures, a misuse
    case with an event, an exception and a disclosure."""
    name, email = f"Person {tag} Zyxwvu", f"erasure-{tag}-subject@example.org"
    customer = make_customer(session, name=name, email=email, company=f"{tag} Widgets Qxz")
    issued: list[License] = []
    servers: list[str] = []
    partner = make_partner(session) if with_partner else None
    for n in range(licenses):
        license = make_license(session, sealer, customer=customer).license
        issued.append(license)
        for s in range(2):
            server = f"srv{s}-{n}.{tag}-host-qqz.example"
            servers.append(server)
            seat = make_seat(session, license.id, server)
            observe(session, sealer, seat, ip=f"198.51.100.{10 + s}", server=server, at=NOW)
        session.add(
            LeasePresentation(
                license_id=license.id,
                activation_id=seat.id,
                presented_jti=uuid.uuid4().hex,
                newest_jti=uuid.uuid4().hex,
                at=NOW,
                ip_prefix="198.51.100.0/24",
            )
        )
        session.add(ReplayNonce(key_id=license.key_id, nonce=uuid.uuid4().hex, expires_at=NOW))
        session.add(SignatureFailure(key_id=license.key_id, bucket_start=NOW, count=3))
        case = MisuseCase(
            license_id=license.id,
            rule="SERVER_SPREAD",
            severity="high",
            summary="many servers",
            evidence={"servers": 9},
            first_seen=NOW,
            last_seen=NOW,
        )
        session.add(case)
        session.flush()
        session.add(MisuseCaseEvent(case_id=case.id, actor="staff", kind="opened", detail={}))
        session.add(
            MisuseException(
                license_id=license.id,
                rule="NETWORK_SPREAD",
                kind="nat",
                reason="shared address at the office",
                declared_by="staff",
                ends_at=NOW,
            )
        )
        if partner is not None:
            session.add(
                Disclosure(
                    partner_id=partner.id,
                    license_id=license.id,
                    partner_key_id="pk",
                    fields=["status"],
                    purpose="license_check",
                    request_id=uuid.uuid4().hex,
                    disclosed_at=NOW,
                )
            )
    session.flush()
    return Seeded(customer, issued, email, name, servers)


def erasure_request(session: Session, customer: Customer) -> PrivacyRequest:
    return privacy_requests.record(
        session,
        kind=PrivacyRequestKind.ERASURE,
        customer_id=customer.id,
        received_at=NOW,
        identity_verification="reply from the licensed address",
        actor=ACTOR,
        now=NOW,
    )


def place_hold(
    session: Session, *, license: License | None = None, customer: Customer | None = None
) -> LegalHold:
    hold = LegalHold(
        scope=HoldScope.LICENSE.value if license is not None else HoldScope.CUSTOMER.value,
        license_id=license.id if license is not None else None,
        customer_id=customer.id if customer is not None else None,
        matter="Vendor v. Licensee 2026",
        reason="evidence of misuse kept for the claim",
        review_on=date(2027, 6, 1),
        placed_by=ACTOR,
        placed_at=NOW,
    )
    session.add(hold)
    session.flush()
    return hold
