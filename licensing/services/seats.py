"""Seats: how many servers a license may run, how many run, and the migration seat's end.

These are the rules; the check-in statements (``statements._seat_figures`` and the batch
SQL in ``storage/check_in_batch_sql.py``) mirror :func:`in_use` and :func:`migration_ends`
in SQL so the hot path counts in the same round trip, and a test holds them to the same
answers.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from licensing.models import Activation, ActivationStatus, Edition, License

if TYPE_CHECKING:  # the snapshot reads its seat limit through allowed() below
    from licensing.services.license_state import LicenseState


@dataclass(frozen=True, slots=True)
class Seats:
    """A license's seats as an answer reports them."""

    used: int
    allowed: int
    migration_until: datetime | None = None


def allowed(license: License, edition: Edition | None = None) -> int:
    """The seats a license may hold: its own override, else its edition's limit."""
    return allowed_by(
        license.max_activations_override, (edition or license.edition).max_activations
    )


def allowed_by(override: int | None, edition_limit: int) -> int:
    """:func:`allowed` from the two columns, for readers that select columns, not rows."""
    return override or edition_limit


def in_use(session: Session, license_id: uuid.UUID) -> int:
    """The license's live activations: each holds one seat."""
    return (
        session.scalar(
            select(func.count())
            .select_from(Activation)
            .where(
                Activation.license_id == license_id, Activation.status == ActivationStatus.ACTIVE
            )
        )
        or 0
    )


def migration_ends(session: Session, license_id: uuid.UUID, *, now: datetime) -> datetime | None:
    """When the seat held under the migration allowance runs out, if one is held."""
    return session.scalar(
        select(func.max(Activation.migration_until)).where(
            Activation.license_id == license_id,
            Activation.status == ActivationStatus.ACTIVE,
            Activation.migration_until > now,
        )
    )


def migrating(used: int, allowed: int) -> bool:
    """A migration seat is in use while more seats are live than the license allows."""
    return used > allowed


def reported(used: int, allowed: int, migration_until: datetime | None) -> Seats:
    """The figures an answer carries: a migration seat's end only while one is in use."""
    return Seats(used, allowed, migration_until if migrating(used, allowed) else None)


def count(session: Session, license_id: uuid.UUID, *, allowed: int, now: datetime) -> Seats:
    """The license's seats now, counted by the rules above."""
    used = in_use(session, license_id)
    until = migration_ends(session, license_id, now=now) if migrating(used, allowed) else None
    return Seats(used, allowed, until)


def of(session: Session, state: LicenseState, *, now: datetime) -> Seats:
    """The seats of the license in ``state`` now."""
    return count(session, state.id, allowed=state.max_activations, now=now)


def room_for_one_more(used: int, state: LicenseState) -> bool:
    """Whether one more server may take a seat: a plain seat, else the migration seat."""
    return used < state.max_activations + state.migration_allowance


def takes_migration_seat(used: int, state: LicenseState) -> bool:
    """Whether one more server would hold the migration seat (all plain seats taken)."""
    return used >= state.max_activations
