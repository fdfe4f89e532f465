"""Hot-path statements, built once per dialect and executed with parameters.

Parameters are named ``p_<column>`` (SQLAlchemy reserves bare column names).

Building an SQLAlchemy statement costs more than running a cached one; the call-home
path runs these for every request, so they are constructed once and reused.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import Table, and_, bindparam, func, literal_column, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from licensing.models import Activation, ReplayNonce, UsageObservation

_activations: Table = Activation.__table__  # type: ignore[assignment]
_observations: Table = UsageObservation.__table__  # type: ignore[assignment]
_nonces: Table = ReplayNonce.__table__  # type: ignore[assignment]


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


@cache
def accept_nonce(dialect: str) -> Executable:
    """Insert ``(key_id, nonce)`` unless present; returns a row only when inserted."""
    statement: Executable = (
        _insert(dialect)(_nonces)
        .values(
            key_id=bindparam("p_key_id"),
            nonce=bindparam("p_nonce"),
            expires_at=bindparam("p_expires_at"),
        )
        .on_conflict_do_nothing(index_elements=["key_id", "nonce"])
        .returning(literal_column("1"))
    )
    return statement


@cache
def touch_activation(*, by_id: bool, by_fingerprint: bool) -> Executable:
    """Mark the live activation as seen; returns it with the license's live seat count."""
    columns = _activations.c
    conditions = [columns.license_id == bindparam("p_license_id"), columns.status == "active"]
    if by_id:
        conditions.append(columns.id == bindparam("p_activation_id"))
    if by_fingerprint:
        conditions.append(columns.fingerprint == bindparam("p_fingerprint"))
    seat = _activations.alias("seat")
    live_seats = (
        select(func.count())
        .where(seat.c.license_id == bindparam("p_license_id"), seat.c.status == "active")
        .scalar_subquery()
    )
    return (
        update(_activations)
        .where(and_(*conditions))
        .values(
            last_check_in_at=bindparam("p_now"),
            server_name=bindparam("p_server_name"),
            product_version=bindparam("p_product_version"),
        )
        .returning(columns.id, columns.fingerprint, columns.activated_at, live_seats)
    )


@cache
def upsert_observation(dialect: str, *, with_usage: bool) -> Executable:
    """Count one more check-in in today's row for this (IP, server name, version)."""
    names = (
        "activation_id",
        "license_id",
        "day",
        "observation_key",
        "ip",
        "ip_hash",
        "ip_prefix",
        "server_name",
        "server_name_hash",
        "product_version",
        "first_seen",
        "last_seen",
        "usage",
    )
    statement = _insert(dialect)(_observations).values(
        {name: bindparam(f"p_{name}") for name in names} | {"count": 1}
    )
    upsert: Executable = statement.on_conflict_do_update(
        index_elements=["activation_id", "day", "observation_key"],
        set_={
            "count": _observations.c.count + 1,
            "last_seen": statement.excluded.last_seen,
            # The latest report wins: counters are levels (mailboxes), not increments.
            "usage": statement.excluded.usage if with_usage else _observations.c.usage,
        },
    )
    return upsert
