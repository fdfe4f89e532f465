"""What a license's instances reported, day by day (from their usage observations)."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from licensing.errors import InvalidRequest
from licensing.models import License, UsageObservation
from licensing.versions import parse_version


@dataclass(slots=True)
class UsageDay:
    """One UTC day of a license: who checked in, how often, from how many network
    addresses (counted by their keyed hash; none for a restricted license), on which
    versions.

    ``usage`` adds up, per counter, each activation's latest report of the day (the
    stored counters of an observation are its latest non-empty report).
    """

    day: date
    activations: int = 0
    check_ins: int = 0
    addresses: int = 0
    versions: list[str] = field(default_factory=list)
    usage: dict[str, int] = field(default_factory=dict)


def usage_by_day(
    session: Session, license: License, *, days: int, now: datetime
) -> Sequence[UsageDay]:
    """The last ``days`` days (today included) that have observations, oldest first."""
    since = now.date() - timedelta(days=days - 1)
    rows = session.execute(
        select(
            UsageObservation.day,
            UsageObservation.activation_id,
            UsageObservation.ip_hash,
            UsageObservation.product_version,
            UsageObservation.count,
            UsageObservation.usage,
        )
        .where(UsageObservation.license_id == license.id, UsageObservation.day >= since)
        .order_by(UsageObservation.day, UsageObservation.last_seen, UsageObservation.id)
    ).all()
    by_day: dict[date, UsageDay] = {}
    activations: dict[date, set[uuid.UUID]] = {}
    addresses: dict[date, set[bytes]] = {}
    latest: dict[tuple[date, uuid.UUID], dict[str, int]] = {}
    for day, activation_id, ip_hash, version, count, counters in rows:
        summary = by_day.setdefault(day, UsageDay(day))
        activations.setdefault(day, set()).add(activation_id)
        if ip_hash is not None:
            addresses.setdefault(day, set()).add(ip_hash)
        summary.check_ins += count
        if version not in summary.versions:
            summary.versions.append(version)
        if counters:
            latest[(day, activation_id)] = dict(counters)  # rows come oldest first
    for (day, _), counters in latest.items():
        totals = by_day[day].usage
        for name, value in counters.items():
            totals[name] = totals.get(name, 0) + int(value)
    for day, summary in by_day.items():
        summary.activations = len(activations[day])
        summary.addresses = len(addresses.get(day, ()))
        summary.versions.sort(key=_version_order)
    return [by_day[day] for day in sorted(by_day)]


def _version_order(text: str) -> tuple[int, Any, str]:
    """Versions in release order; one that does not parse sorts after, by its text."""
    try:
        return (0, parse_version(text), text)
    except InvalidRequest:
        return (1, None, text)
