"""The console's license page, read in a few indexed queries: typed rows, no Flask.

Usage data appears only masked: servers by the label of their keyed hash, networks by the
prefix pseudonymisation keeps. No raw IP address or server name leaves this module, so a
page built from it cannot show one (a reveal, with a reason, is a separate service).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import case, func, select
from sqlalchemy.orm import InstrumentedAttribute, Session, joinedload

from licensing.crypto.sealing import Sealer
from licensing.errors import NotFound
from licensing.models import (
    Activation,
    ActivationStatus,
    AuditEvent,
    License,
    Partner,
    UsageObservation,
)
from licensing.models.misuse import MisuseCase
from licensing.privacy.masking import (
    activation_server_label,
    masked_email,
    masked_ip,
    server_label,
)
from licensing.privacy.pseudonymise import SERVER_NAME_HASH_PURPOSE
from licensing.services import audit, disclosures, seats
from licensing.services.hash_key_periods import stored_period_keys

TIMELINE_DAYS = 90
RECENT_DAYS = 30
DISCLOSURES_SHOWN = 20
EVENTS_SHOWN = 50


@dataclass(frozen=True, slots=True)
class LicenseFacts:
    id: uuid.UUID
    key_id: str
    key_hint: str
    status: str
    status_reason: str | None
    status_changed_at: datetime
    product: str
    edition: str
    customer_name: str
    customer_email: str  # masked
    issued_at: datetime
    expires_at: datetime | None
    upgrade_protection_until: datetime | None
    seats_allowed: int
    seats_in_use: int
    processing_restricted: bool


@dataclass(frozen=True, slots=True)
class ActivationRow:
    id: uuid.UUID
    server: str  # masked: the label of the name's keyed hash
    activated_at: datetime
    last_check_in_at: datetime
    product_version: str
    platform: str | None
    status: str
    released_at: datetime | None
    release_reason: str | None

    @property
    def holds_seat(self) -> bool:
        return self.status == ActivationStatus.ACTIVE


@dataclass(frozen=True, slots=True)
class SeenRow:
    """A server or a network (masked) and when, and how often, it checked in."""

    label: str
    first_seen: datetime
    last_seen: datetime
    check_ins: int


@dataclass(frozen=True, slots=True)
class Spread:
    """The distinct servers and networks seen in the last ``days`` days."""

    days: int
    servers: tuple[SeenRow, ...]
    networks: tuple[SeenRow, ...]


@dataclass(frozen=True, slots=True)
class CaseRow:
    id: uuid.UUID
    rule: str
    severity: str
    status: str
    last_seen: datetime


@dataclass(frozen=True, slots=True)
class DisclosureRow:
    disclosed_at: datetime
    partner: str
    purpose: str
    fields: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class LicensePage:
    facts: LicenseFacts
    activations: tuple[ActivationRow, ...]
    check_ins: dict[date, int]  # per day, days without any left out
    first_day: date
    last_day: date
    recent: Spread
    timeline: Spread
    cases: tuple[CaseRow, ...]
    disclosures: tuple[DisclosureRow, ...]
    events: tuple[AuditEvent, ...]


def license_page(
    session: Session, sealer: Sealer, license_id: uuid.UUID, *, now: datetime
) -> LicensePage:
    """Everything the license page shows; raise NotFound for an unknown license."""
    license = session.scalar(
        select(License)
        .options(
            joinedload(License.product), joinedload(License.edition), joinedload(License.customer)
        )
        .where(License.id == license_id)
    )
    if license is None:
        raise NotFound("no license has that id")
    last_day = now.date()
    first_day = last_day - timedelta(days=TIMELINE_DAYS - 1)
    recent_from = last_day - timedelta(days=RECENT_DAYS - 1)
    activations = _activations(session, sealer, license.id)
    servers = _seen_by(
        session, license.id, UsageObservation.server_name_hash, first_day, recent_from
    )
    networks = _seen_by(session, license.id, UsageObservation.ip_prefix, first_day, recent_from)
    return LicensePage(
        facts=_facts(license, activations),
        activations=activations,
        check_ins=_check_ins_per_day(session, license.id, first_day),
        first_day=first_day,
        last_day=last_day,
        recent=Spread(RECENT_DAYS, _labelled(servers[1], _server), _labelled(networks[1], _net)),
        timeline=Spread(
            TIMELINE_DAYS, _labelled(servers[0], _server), _labelled(networks[0], _net)
        ),
        cases=_cases(session, license.id),
        disclosures=_disclosures(session, license.id),
        events=tuple(
            audit.list_events(session, subject=f"license:{license.id}", limit=EVENTS_SHOWN)
        ),
    )


def _facts(license: License, activations: Sequence[ActivationRow]) -> LicenseFacts:
    return LicenseFacts(
        id=license.id,
        key_id=license.key_id,
        key_hint=license.key_hint,
        status=license.status,
        status_reason=license.status_reason,
        status_changed_at=license.status_changed_at,
        product=f"{license.product.name} ({license.product.code})",
        edition=f"{license.edition.name} ({license.edition.code})",
        customer_name=license.customer.name,
        customer_email=masked_email(license.customer.email),
        issued_at=license.issued_at,
        expires_at=license.expires_at,
        upgrade_protection_until=license.upgrade_protection_until,
        seats_allowed=seats.allowed(license),
        # seats.in_use counts the same rows in SQL: each live activation holds one seat.
        seats_in_use=sum(1 for a in activations if a.holds_seat),
        processing_restricted=license.processing_restricted,
    )


def _activations(
    session: Session, sealer: Sealer, license_id: uuid.UUID
) -> tuple[ActivationRow, ...]:
    rows = session.scalars(
        select(Activation)
        .where(Activation.license_id == license_id)
        .order_by(Activation.activated_at, Activation.id)
    )
    held = stored_period_keys(session, SERVER_NAME_HASH_PURPOSE)
    return tuple(
        ActivationRow(
            id=a.id,
            # The name as reported, hashed as the check-in path hashes it: the same label
            # as the usage tables show for this server.
            server=activation_server_label(
                sealer, a.server_name, seen=a.last_check_in_at, held=held
            ),
            activated_at=a.activated_at,
            last_check_in_at=a.last_check_in_at,
            product_version=a.product_version,
            platform=a.platform,
            status=a.status,
            released_at=a.released_at,
            release_reason=a.release_reason,
        )
        for a in rows
    )


def _check_ins_per_day(session: Session, license_id: uuid.UUID, first: date) -> dict[date, int]:
    rows = session.execute(
        select(UsageObservation.day, func.sum(UsageObservation.count))
        .where(UsageObservation.license_id == license_id, UsageObservation.day >= first)
        .group_by(UsageObservation.day)
    )
    return {day: int(total) for day, total in rows}


_Seen = tuple[object, datetime, datetime, int]


def _seen_by(
    session: Session,
    license_id: uuid.UUID,
    column: InstrumentedAttribute[Any],
    first: date,
    recent_from: date,
) -> tuple[list[_Seen], list[_Seen]]:
    """Per value of ``column``: over the whole window and over its recent part, in one
    read of the license's rows through (license_id, day)."""
    recent = UsageObservation.day >= recent_from
    rows = session.execute(
        select(
            column,
            func.min(UsageObservation.first_seen),
            func.max(UsageObservation.last_seen),
            func.sum(UsageObservation.count),
            func.min(case((recent, UsageObservation.first_seen))),
            func.max(case((recent, UsageObservation.last_seen))),
            func.sum(case((recent, UsageObservation.count), else_=0)),
        )
        .where(
            UsageObservation.license_id == license_id,
            UsageObservation.day >= first,
            column.is_not(None),
        )
        .group_by(column)
    ).all()
    whole = [(value, first_seen, last_seen, int(n)) for value, first_seen, last_seen, n, *_ in rows]
    part = [
        (value, first_seen, last_seen, int(n))
        for value, _, _, _, first_seen, last_seen, n in rows
        if n
    ]
    return whole, part


def _server(value: object) -> str:
    return server_label(value if isinstance(value, bytes) else None)


def _net(value: object) -> str:
    return masked_ip(None, ip_prefix=value if isinstance(value, str) else None)


def _labelled(rows: list[_Seen], label: Callable[[object], str]) -> tuple[SeenRow, ...]:
    found = [SeenRow(label(value), first, last, n) for value, first, last, n in rows]
    return tuple(sorted(found, key=lambda row: row.last_seen, reverse=True))


def _cases(session: Session, license_id: uuid.UUID) -> tuple[CaseRow, ...]:
    rows = session.scalars(
        select(MisuseCase)
        .where(MisuseCase.license_id == license_id)
        .order_by(MisuseCase.last_seen.desc())
    )
    return tuple(CaseRow(c.id, c.rule, c.severity, c.status, c.last_seen) for c in rows)


def _disclosures(session: Session, license_id: uuid.UUID) -> tuple[DisclosureRow, ...]:
    found = disclosures.list_disclosures(session, license_id=license_id, limit=DISCLOSURES_SHOWN)
    partner_ids = {d.partner_id for d in found}
    names: dict[uuid.UUID, str] = {}
    if partner_ids:
        rows = session.execute(select(Partner.id, Partner.name).where(Partner.id.in_(partner_ids)))
        names = {partner_id: name for partner_id, name in rows}
    return tuple(
        DisclosureRow(
            disclosed_at=d.disclosed_at,
            partner=names.get(d.partner_id, str(d.partner_id)),
            purpose=d.purpose,
            fields=tuple(d.fields),
        )
        for d in found
    )
