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
    exists,
    func,
    literal_column,
    select,
    update,
)
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql import Executable

from licensing.models import Activation, ReplayNonce, UsageObservation

_activations: Table = Activation.__table__  # type: ignore[assignment]
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
    """The license's live seats, and when a seat held under the migration allowance ends."""
    seat = _activations.alias("seat")
    live = and_(seat.c.license_id == bindparam("p_license_id"), seat.c.status == "active")
    used = select(func.count()).where(live).scalar_subquery()
    migration_until = (
        select(func.max(seat.c.migration_until))
        .where(live, seat.c.migration_until > bindparam("p_now", type_=seat.c.migration_until.type))
        .scalar_subquery()
    )
    return used, migration_until


def _touch(*, by_id: bool, by_fingerprint: bool) -> Any:
    columns = _activations.c
    conditions = [columns.license_id == bindparam("p_license_id"), columns.status == "active"]
    if by_id:
        conditions.append(columns.id == bindparam("p_activation_id"))
    if by_fingerprint:
        conditions.append(columns.fingerprint == bindparam("p_fingerprint"))
    return (
        update(_activations)
        .where(and_(*conditions))
        .values(
            last_check_in_at=bindparam("p_now"),
            server_name=bindparam("p_server_name"),
            product_version=bindparam("p_product_version"),
        )
    )


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


@cache
def check_in_postgresql(*, by_id: bool, by_fingerprint: bool, with_usage: bool) -> Executable:
    """Nonce, activation touch, observation upsert and seat figures in ONE statement.

    PostgreSQL runs data-modifying CTEs with one snapshot in one round trip. The touch
    only happens if the nonce was inserted, so a replayed request writes nothing; the
    outer SELECT reads the outcome of each part.
    """
    nonce = (
        postgresql.insert(_nonces)
        .values(
            key_id=bindparam("p_key_id"),
            nonce=bindparam("p_nonce"),
            expires_at=_param("expires_at", _nonces),
        )
        .on_conflict_do_nothing(index_elements=["key_id", "nonce"])
        .returning(_nonces.c.nonce)
        .cte("accepted_nonce")
    )
    columns = _activations.c
    touched = (
        _touch(by_id=by_id, by_fingerprint=by_fingerprint)
        .where(exists(select(nonce.c.nonce)))
        .returning(columns.id, columns.fingerprint, columns.activated_at)
        .cte("touched")
    )
    observed_values = select(
        touched.c.id, *(_param(name) for name in _OBSERVED[1:]), literal_column("1")
    )
    observed = (
        _upsert_conflict(
            postgresql.insert(_observations).from_select([*_OBSERVED, "count"], observed_values),
            with_usage=with_usage,
        )
        .returning(_observations.c.id)
        .cte("observed")
    )
    used, migration_until = _seat_figures()
    statement: Executable = select(
        select(func.count()).select_from(nonce).scalar_subquery().label("accepted"),
        select(touched.c.id).scalar_subquery().label("id"),
        select(touched.c.fingerprint).scalar_subquery().label("fingerprint"),
        select(touched.c.activated_at).scalar_subquery().label("activated_at"),
        used.label("seats_used"),
        migration_until.label("migration_until"),
        select(func.count()).select_from(observed).scalar_subquery().label("observed"),
    )
    return statement
