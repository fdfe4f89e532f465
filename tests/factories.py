"""Records built through the services, with sensible defaults and unique codes."""

from __future__ import annotations

import dataclasses
import itertools
import uuid
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.crypto.sealing import Sealer
from licensing.models import (
    Activation,
    AuditEvent,
    Customer,
    Edition,
    LicenseStatus,
    Partner,
    Product,
    Release,
    Scope,
)
from licensing.services import catalog, customers, licenses, partners
from licensing.services.catalog import EditionPolicy
from licensing.services.license_state import LicenseState
from licensing.services.licenses import IssuedLicense
from licensing.services.partners import IssuedPartnerKey

ACTOR = "test:factory"
_sequence = itertools.count(1)


def unique(prefix: str) -> str:
    return f"{prefix}-{next(_sequence)}"


def make_product(
    session: Session, *, code: str | None = None, name: str | None = None, actor: str = ACTOR
) -> Product:
    code = code or unique("product")
    return catalog.add_product(session, code=code, name=name or f"Product {code}", actor=actor)


def make_edition(
    session: Session,
    *,
    product: Product | None = None,
    code: str | None = None,
    name: str | None = None,
    actor: str = ACTOR,
    **policy: Any,
) -> Edition:
    """An edition of ``product`` (a new one by default); ``policy`` overrides EditionPolicy."""
    product = product or make_product(session, actor=actor)
    code = code or unique("edition")
    return catalog.add_edition(
        session,
        product_code=product.code,
        code=code,
        name=name or f"Edition {code}",
        policy=EditionPolicy(**policy),
        actor=actor,
    )


def make_release(
    session: Session,
    *,
    product: Product | None = None,
    version: str | None = None,
    released_at: datetime | None = None,
    actor: str = ACTOR,
) -> Release:
    product = product or make_product(session, actor=actor)
    return catalog.add_release(
        session,
        product_code=product.code,
        version=version or f"1.{next(_sequence)}.0",
        released_at=released_at or datetime(2024, 1, 15, tzinfo=UTC),
        actor=actor,
    )


def make_customer(
    session: Session,
    *,
    name: str = "Ada Lovelace",
    email: str | None = None,
    company: str | None = "Analytical Engines Ltd",
    actor: str = ACTOR,
) -> Customer:
    email = email or f"{unique('ada')}@example.com"
    return customers.add_customer(session, name=name, email=email, company=company, actor=actor)


def make_license(
    session: Session,
    sealer: Sealer,
    *,
    edition: Edition | None = None,
    customer: Customer | None = None,
    actor: str = ACTOR,
    **options: Any,
) -> IssuedLicense:
    """A license of ``edition`` (a new per-server edition by default) and its key."""
    edition = edition or make_edition(session, actor=actor)
    return licenses.issue(
        session,
        sealer,
        product=edition.product,
        edition=edition,
        customer=customer or make_customer(session, actor=actor),
        actor=actor,
        **options,
    )


def latest_event(session: Session) -> AuditEvent:
    """The newest audit event (tests start with an empty audit log)."""
    event = session.scalar(select(AuditEvent).order_by(AuditEvent.seq.desc()).limit(1))
    assert event is not None, "no audit event was recorded"
    return event


def make_partner(
    session: Session,
    *,
    name: str | None = None,
    kind: str = "reseller",
    products: Sequence[Product] = (),
    allowed_networks: Sequence[str] = (),
    rate_limit: str | None = None,
    actor: str = ACTOR,
) -> Partner:
    """A partner registered for ``products`` (none by default)."""
    partner = partners.add_partner(
        session,
        name=name or unique("partner"),
        kind=kind,
        allowed_networks=allowed_networks,
        rate_limit=rate_limit,
        actor=actor,
    )
    for product in products:
        partners.add_product(session, partner, product.code, actor=actor)
    return partner


def make_partner_key(
    session: Session,
    sealer: Sealer,
    *,
    partner: Partner | None = None,
    scopes: Sequence[str] = tuple(Scope),
    expires_at: datetime | None = None,
    label: str | None = None,
    actor: str = ACTOR,
) -> IssuedPartnerKey:
    """An API key of ``partner`` (a new one by default), both scopes by default."""
    return partners.create_key(
        session,
        sealer,
        partner or make_partner(session, actor=actor),
        scopes=scopes,
        expires_at=expires_at,
        label=label,
        actor=actor,
    )


def make_activation(
    session: Session, license_id: uuid.UUID, *, silent_for: timedelta, now: datetime
) -> Activation:
    """A live activation, a month old, whose last check-in was ``silent_for`` before ``now``."""
    activation = Activation(
        license_id=license_id,
        fingerprint=uuid.uuid4().hex,
        server_name="mail.example.com",
        product_version="1.0.0",
        status="active",
        activated_at=now - timedelta(days=30),
        last_check_in_at=now - silent_for,
    )
    session.add(activation)
    session.flush()
    return activation


_LICENSE_STATE = LicenseState(
    id=uuid.UUID(int=0),
    key_id="k" * 22,
    signing_secret=bytes(32),
    status=LicenseStatus.ACTIVE,
    product_id=uuid.UUID(int=0),
    product_code="mail",
    edition_code="standard",
    expires_at=None,
    upgrade_protection_until=None,
    processing_restricted=False,
    max_activations=1,
    migration_allowance=0,
    migration_window=timedelta(days=7),
    check_in_interval=timedelta(hours=24),
    offline_grace=timedelta(days=14),
    entitlements=(),
)


def license_state(**changes: Any) -> LicenseState:
    """A valid, perpetual one-seat license's snapshot with fresh ids, changed by ``changes``."""
    fresh = {"id": uuid.uuid4(), "product_id": uuid.uuid4()}
    return dataclasses.replace(_LICENSE_STATE, **(fresh | changes))
