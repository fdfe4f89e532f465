"""The observation selects behind ``misuse_history``: the lookback's rows day by day or
summed over their days, and the seats' earlier days.

Like ``misuse_history_rows``, Core statements on the session's connection, returning
plain values grouped by license.
"""

from __future__ import annotations

import uuid
from collections import defaultdict
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, func, select

from licensing.misuse.history import Observation
from licensing.models import UsageObservation
from licensing.services.fixed_usage_keys import Boundary
from licensing.services.misuse_history_rows import Ids, Texts, among

_o = UsageObservation


def _hex(value: bytes | None) -> str | None:
    return value.hex() if value is not None else None


def daily_observations(
    connection: Connection, ids: Ids, since: datetime, fixed: Boundary | None = None
) -> dict[uuid.UUID, list[Observation]]:
    """Each observation row since ``since``'s day, whole: one per activation, day,
    address, server name and version; ``fixed`` tells which rows were hashed under the
    fixed keys."""
    rows = connection.execute(
        select(
            _o.license_id,
            _o.activation_id,
            _o.day,
            _o.first_seen,
            _o.last_seen,
            _o.count,
            _o.ip_hash,
            _o.ip_prefix,
            _o.server_name_hash,
            _o.product_version,
        ).where(among(_o.license_id, ids), _o.day >= since.date())
    )
    return _by_license(rows, fixed or Boundary())


def summed_observations(
    connection: Connection, ids: Ids, since: datetime, fixed: Boundary | None = None
) -> dict[uuid.UUID, list[Observation]]:
    """The observations seen since ``since``, added up over their days: one row per
    activation, address, server name and version, first seen to last seen, with the
    check-ins summed and the last day as its day. Rows of one hash share its key, so
    a sum is hashed under the fixed keys when its earliest row is.

    What the rules read of these is the same as of the daily rows (distinct values,
    their check-ins and first and last seen) for a license whose days cannot matter:
    see ``misuse_history.days_matter``.
    """
    rows = connection.execute(
        select(
            _o.license_id,
            _o.activation_id,
            func.max(_o.day),
            func.min(_o.first_seen),
            func.max(_o.last_seen),
            func.sum(_o.count),
            _o.ip_hash,
            _o.ip_prefix,
            _o.server_name_hash,
            _o.product_version,
        )
        .where(among(_o.license_id, ids), _o.last_seen >= since)
        .group_by(
            _o.license_id,
            _o.activation_id,
            _o.ip_hash,
            _o.ip_prefix,
            _o.server_name_hash,
            _o.product_version,
        )
    )
    return _by_license(rows, fixed or Boundary())


def _by_license(rows: Iterable[Any], boundary: Boundary) -> dict[uuid.UUID, list[Observation]]:
    """The rows, in the columns both readings select, as each license's observations."""
    found: dict[uuid.UUID, list[Observation]] = defaultdict(list)
    text = Texts()
    for license_id, activation, day, first, last, count, ip, prefix, server, version in rows:
        found[license_id].append(
            Observation(
                text(activation),
                day,
                first,
                last,
                count,
                _hex(ip),
                prefix,
                _hex(server),
                version,
                boundary.hashed_under_fixed_keys(day, first),
            )
        )
    return found


def seat_history(
    connection: Connection,
    ids: Ids,
    since: datetime,
    until: datetime,
    found: dict[uuid.UUID, list[Observation]],
) -> None:
    """Before the lookback only when each seat was live matters: one row per activation
    and day between ``since`` and ``until``, without address, server or version (the
    rules that read those look at the lookback only)."""
    rows = connection.execute(
        select(
            _o.license_id,
            _o.activation_id,
            _o.day,
            func.min(_o.first_seen),
            func.max(_o.last_seen),
            func.sum(_o.count),
        )
        .where(among(_o.license_id, ids), _o.day >= since.date(), _o.day < until.date())
        .group_by(_o.license_id, _o.activation_id, _o.day)
    )
    text = Texts()
    for license_id, activation, day, first, last, count in rows:
        found[license_id].append(Observation(text(activation), day, first, last, count))
