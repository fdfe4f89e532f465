"""Activation and deactivation: seats under the edition's limit and migration allowance.

The limit holds under concurrency because every activation first locks its license
row (``SELECT ... FOR UPDATE`` on PostgreSQL; SQLite writers already hold the database
lock from ``BEGIN IMMEDIATE``). Counting and inserting then happen under that lock.
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, or_, select, update
from sqlalchemy.orm import Session

from licensing.errors import NotFound
from licensing.models import Activation, ActivationStatus, Edition, License, ReleaseReason
from licensing.services import audit, seats
from licensing.services.license_state import LicenseState
from licensing.services.seats import Seats
from licensing.services.verdicts import TOO_MANY_ACTIVATIONS, VALID, Verdict


@dataclass(frozen=True, slots=True)
class Seat:
    """An activation as an answer reports it, with the license's seats."""

    activation: Activation
    created: bool
    seats: Seats


@dataclass(frozen=True, slots=True)
class ActivationOutcome:
    verdict: Verdict
    seat: Seat | None


def activate(
    session: Session,
    state: LicenseState,
    *,
    fingerprint: str,
    server_name: str | None,
    product_version: str,
    platform: str | None,
    now: datetime,
) -> ActivationOutcome:
    """Take a seat for ``fingerprint``, or return its live one (idempotent)."""
    session.execute(select(License.id).where(License.id == state.id).with_for_update())
    existing = session.scalar(
        select(Activation).where(
            Activation.license_id == state.id,
            Activation.fingerprint == fingerprint,
            Activation.status == ActivationStatus.ACTIVE,
        )
    )
    if existing is not None:
        existing.server_name = server_name
        existing.product_version = product_version
        existing.last_check_in_at = now
        return ActivationOutcome(VALID, _seat(session, state, existing, created=False, now=now))
    used = seats.in_use(session, state.id)
    migration_until = None
    if not seats.room_for_one_more(used, state):
        return ActivationOutcome(TOO_MANY_ACTIVATIONS, None)
    if seats.takes_migration_seat(used, state):
        # One more server while the customer moves; misuse rules watch the overstay.
        migration_until = now + state.migration_window
    activation = Activation(
        id=uuid.uuid4(),
        license_id=state.id,
        fingerprint=fingerprint,
        server_name=server_name,
        product_version=product_version,
        platform=platform,
        status=ActivationStatus.ACTIVE,
        activated_at=now,
        last_check_in_at=now,
        migration_until=migration_until,
    )
    session.add(activation)
    session.flush()
    return ActivationOutcome(VALID, _seat(session, state, activation, created=True, now=now))


def deactivate(
    session: Session, state: LicenseState, activation_id: uuid.UUID, *, now: datetime
) -> bool:
    """The instance gives its seat back; False if it holds no live one."""
    return release(session, state.id, activation_id, reason=ReleaseReason.DEACTIVATED, now=now)


def release(
    session: Session,
    license_id: uuid.UUID,
    activation_id: uuid.UUID,
    *,
    reason: ReleaseReason,
    now: datetime,
) -> bool:
    """Release a live activation of this license; False if there is none.

    One conditional statement, so a seat is released once however many ask at once.
    """
    result = session.execute(
        update(Activation)
        .where(
            Activation.id == activation_id,
            Activation.license_id == license_id,
            Activation.status == ActivationStatus.ACTIVE,
        )
        .values(status=ActivationStatus.RELEASED, released_at=now, release_reason=reason)
    )
    return bool(result.rowcount == 1)  # type: ignore[attr-defined]


def cull_dead_activations(session: Session, *, now: datetime) -> int:
    """Release activations silent for longer than their edition's dead-after.

    Live activations are found per license through ``ix_activations_license_id_status``;
    ``last_check_in_at`` is filtered on the rows, not through an index, so that the
    check-in's update of it stays a heap-only (HOT) update on PostgreSQL.
    """
    culled = 0
    editions = session.execute(
        select(Edition.id, Edition.check_in_interval_seconds, Edition.dead_after_intervals)
    ).all()
    for edition_id, interval_seconds, dead_after in editions:
        cutoff = now - timedelta(seconds=interval_seconds * dead_after)
        result = session.execute(
            update(Activation)
            .where(
                Activation.status == ActivationStatus.ACTIVE,
                Activation.last_check_in_at < cutoff,
                Activation.license_id.in_(
                    select(License.id).where(License.edition_id == edition_id)
                ),
            )
            .values(
                status=ActivationStatus.RELEASED,
                released_at=now,
                release_reason=ReleaseReason.CULLED,
            )
        )
        culled += int(result.rowcount)  # type: ignore[attr-defined]
    return culled


def count_by_status(session: Session) -> dict[str, int]:
    """Every status with its number of activations (zero included); one grouped count."""
    counts = dict.fromkeys((str(status) for status in ActivationStatus), 0)
    rows = session.execute(
        select(Activation.status, func.count()).group_by(Activation.status)
    ).all()
    counts.update({str(status): int(count) for status, count in rows})
    return counts


def release_seat(
    session: Session,
    license: License,
    reference: str,
    *,
    reason: str,
    actor: str,
    now: datetime,
) -> Activation:
    """Staff free a seat (a server gone for good); the instance must activate again."""
    activation = find_activation(session, license, reference)
    if not release(session, license.id, activation.id, reason=ReleaseReason.STAFF, now=now):
        raise NotFound(f"activation {activation.id} does not hold a seat (it was released)")
    session.refresh(activation)
    audit.record(
        session,
        actor=actor,
        action="activation.released",
        subject_type="license",
        subject_id=license.id,
        data={"activation_id": str(activation.id), "reason": reason},
    )
    return activation


def list_activations(session: Session, license: License) -> Sequence[Activation]:
    """Every activation of the license, live and released, oldest first."""
    return session.scalars(
        select(Activation)
        .where(Activation.license_id == license.id)
        .order_by(Activation.activated_at, Activation.id)
    ).all()


def find_activation(session: Session, license: License, reference: str) -> Activation:
    """An activation of this license by its id, or the live one of a fingerprint."""
    by_reference = Activation.fingerprint == reference
    with contextlib.suppress(ValueError):
        # A fingerprint of 32 hex characters also reads as a UUID: try both.
        by_reference = or_(Activation.id == uuid.UUID(reference), by_reference)
    found = session.scalars(
        select(Activation)
        .where(Activation.license_id == license.id, by_reference)
        .order_by(Activation.status == ActivationStatus.ACTIVE, Activation.activated_at)
    ).all()
    if not found:
        raise NotFound(f"license {license.key_id} has no activation {reference!r}")
    return found[-1]  # a fingerprint's live activation, else its latest


def _seat(
    session: Session, state: LicenseState, activation: Activation, *, created: bool, now: datetime
) -> Seat:
    counted = seats.of(session, state, now=now)
    return Seat(activation=activation, created=created, seats=counted)
