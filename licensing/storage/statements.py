"""Hot-path statements, built once per dialect and executed with parameters.

Parameters are named ``p_<column>`` (SQLAlchemy reserves bare column names).

Building an SQLAlchemy statement costs more than running a cached one; the call-home
path runs these for every request, so they are constructed once and reused.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from sqlalchemy import (
    ColumnElement,
    Table,
    and_,
    bindparam,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from licensing.models import Activation, LeasePresentation, ReplayNonce, UsageObservation

_activations: Table = Activation.__table__  # type: ignore[assignment]
_presentations: Table = LeasePresentation.__table__  # type: ignore[assignment]
_observations: Table = UsageObservation.__table__  # type: ignore[assignment]
_nonces: Table = ReplayNonce.__table__  # type: ignore[assignment]
_OBSERVED = (
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


def _insert(dialect: str) -> Any:
    return postgresql.insert if dialect == "postgresql" else sqlite.insert


def _param(column: str, table: Table = _observations) -> Any:
    return bindparam(f"p_{column}", type_=table.c[column].type)


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


def _seat_figures() -> tuple[ColumnElement[Any], ColumnElement[Any]]:
    """The license's live seats, and when a seat held under the migration allowance ends.

    SQL for ``services.seats.in_use`` and ``services.seats.migration_ends``, so a check-in
    counts in its own statement; tests/unit/services/test_seats.py holds them equal.
    """
    seat = _activations.alias("seat")
    live = and_(seat.c.license_id == bindparam("p_license_id"), seat.c.status == "active")
    used = select(func.count()).where(live).scalar_subquery()
    migration_until = (
        select(func.max(seat.c.migration_until))
        .where(live, seat.c.migration_until > bindparam("p_now", type_=seat.c.migration_until.type))
        .scalar_subquery()
    )
    return used, migration_until


def _live(*, by_id: bool, by_fingerprint: bool) -> ColumnElement[bool]:
    """The check-in's live activation, named by id, by fingerprint or by both."""
    columns = _activations.c
    conditions = [columns.license_id == bindparam("p_license_id"), columns.status == "active"]
    if by_id:
        conditions.append(columns.id == bindparam("p_activation_id"))
    if by_fingerprint:
        conditions.append(columns.fingerprint == bindparam("p_fingerprint"))
    return and_(*conditions)


def _touch(*, by_id: bool, by_fingerprint: bool) -> Any:
    columns = _activations.c
    return (
        update(_activations)
        .where(_live(by_id=by_id, by_fingerprint=by_fingerprint))
        .values(
            last_check_in_at=bindparam("p_now"),
            server_name=bindparam("p_server_name"),
            product_version=bindparam("p_product_version"),
            # The lease this check-in answers with; an answer without one (a suspended
            # license) keeps naming the newest lease actually sent.
            lease_jti=func.coalesce(
                bindparam("p_lease_jti", type_=columns.lease_jti.type), columns.lease_jti
            ),
        )
    )


@cache
def record_superseded_lease(*, by_id: bool, by_fingerprint: bool) -> Executable:
    """Record a presented lease that is not the live activation's newest (lease chain).

    Runs before the touch, so "newest" is the activation's value as this check-in found
    it; an activation that names no lease yet (none issued since the chain began) and a
    matching lease write nothing. ``p_lease_jti``, the lease this check-in issues, is
    kept as ``issued_jti``. The caller passes only a presented id that verified.
    """
    columns = _activations.c
    presented = bindparam("p_presented_jti", type_=_presentations.c.presented_jti.type)
    found = select(
        columns.license_id,
        columns.id,
        presented,
        columns.lease_jti,
        bindparam("p_lease_jti", type_=_presentations.c.issued_jti.type),
        bindparam("p_now", type_=_presentations.c.at.type),
        bindparam("p_ip_prefix", type_=_presentations.c.ip_prefix.type),
        bindparam("p_ip_hash", type_=_presentations.c.ip_hash.type),
    ).where(
        _live(by_id=by_id, by_fingerprint=by_fingerprint),
        columns.lease_jti.is_not(None),
        columns.lease_jti != presented,
    )
    statement: Executable = _presentations.insert().from_select(
        [
            "license_id",
            "activation_id",
            "presented_jti",
            "newest_jti",
            "issued_jti",
            "at",
            "ip_prefix",
            "ip_hash",
        ],
        found,
    )
    return statement


@cache
def touch_activation(*, by_id: bool, by_fingerprint: bool) -> Executable:
    """Mark the live activation as seen; returns it with the license's seat figures."""
    used, migration_until = _seat_figures()
    columns = _activations.c
    statement: Executable = _touch(by_id=by_id, by_fingerprint=by_fingerprint).returning(
        columns.id, columns.fingerprint, columns.activated_at, used, migration_until
    )
    return statement


def _upsert_conflict(statement: Any, *, with_usage: bool) -> Any:
    return statement.on_conflict_do_update(
        index_elements=["activation_id", "day", "observation_key"],
        set_={
            "count": _observations.c.count + 1,
            "last_seen": statement.excluded.last_seen,
            # The latest report wins: counters are levels (mailboxes), not increments.
            "usage": statement.excluded.usage if with_usage else _observations.c.usage,
        },
    )


@cache
def upsert_observation(dialect: str, *, with_usage: bool) -> Executable:
    """Count one more check-in in today's row for this (IP, server name, version)."""
    statement = _insert(dialect)(_observations).values(
        {name: bindparam(f"p_{name}") for name in _OBSERVED} | {"count": 1}
    )
    upsert: Executable = _upsert_conflict(statement, with_usage=with_usage)
    return upsert
