"""One check-in's writes: the nonce, the activation's touch, today's observation.

:func:`write_check_in` writes one check-in on a connection in the caller's transaction
(the face commits it); a batch of them on PostgreSQL is written and committed by one
statement instead (:mod:`licensing.storage.check_in_batches`). Both take a
:class:`CheckInRow` and answer a :class:`Recorded`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection

from licensing.storage import statements
from licensing.storage.group_commit import GroupCommit
from licensing.storage.replay import NonceClaim, use_up_with


@dataclass(frozen=True, slots=True)
class LiveActivation:
    id: uuid.UUID
    fingerprint: str
    activated_at: datetime
    seats_used: int
    migration_until: datetime | None


@dataclass(frozen=True, slots=True)
class CheckInRow:
    """One check-in's writes: ``observation`` holds the ``p_<column>`` values to store.

    ``issued_jti`` is the id of the lease the answer will carry (None: no lease, and the
    activation keeps naming the one it had); ``presented_jti`` the one the instance holds.
    """

    license_id: uuid.UUID
    activation_id: uuid.UUID | None
    fingerprint: str | None
    nonce: NonceClaim | None
    now: datetime
    observation: dict[str, Any]
    issued_jti: str | None = None
    presented_jti: str | None = None


@dataclass(frozen=True, slots=True)
class Recorded:
    """A check-in's outcome: replayed, or the live activation (None: not active)."""

    replayed: bool
    activation: LiveActivation | None = None


CheckInGroup = GroupCommit[CheckInRow, Recorded]


def write_check_in(connection: Connection, row: CheckInRow) -> Recorded:
    """Use the row's nonce up, touch the live activation and upsert the observation.

    A presented lease other than the activation's newest is recorded before the touch
    moves the activation on to the lease this check-in issues. Nothing is written for a
    replayed nonce or an instance with no live activation.
    """
    if row.nonce is not None and not use_up_with(connection, row.nonce):
        return Recorded(replayed=True)
    observed = row.observation
    shape = {"by_id": row.activation_id is not None, "by_fingerprint": row.fingerprint is not None}
    params = {
        "p_license_id": row.license_id,
        "p_activation_id": row.activation_id,
        "p_fingerprint": row.fingerprint,
        "p_now": row.now,
        "p_server_name": observed["p_server_name"],
        "p_product_version": observed["p_product_version"],
        "p_lease_jti": row.issued_jti,
    }
    if row.presented_jti is not None:  # only instances that name their lease cost this
        connection.execute(
            statements.record_superseded_lease(**shape),
            params
            | {
                "p_presented_jti": row.presented_jti,
                "p_ip_prefix": observed["p_ip_prefix"],
                "p_ip_hash": observed["p_ip_hash"],
            },
        )
    touched = connection.execute(statements.touch_activation(**shape), params).first()
    if touched is None:
        return Recorded(replayed=False)
    activation = LiveActivation(*touched)
    connection.execute(
        statements.upsert_observation(
            connection.dialect.name, with_usage=bool(observed["p_usage"])
        ),
        observed | {"p_activation_id": activation.id, "p_license_id": row.license_id},
    )
    return Recorded(replayed=False, activation=activation)
