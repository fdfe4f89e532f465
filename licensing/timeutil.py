"""Time as the domain reads it: now in UTC, calendar arithmetic, the protocol's format."""

from __future__ import annotations

import calendar
from datetime import UTC, datetime


def utcnow() -> datetime:
    """Now, timezone-aware UTC: every stored and compared moment is UTC."""
    return datetime.now(UTC)


def add_months(moment: datetime, months: int) -> datetime:
    """The same day-of-month ``months`` later, clamped to the month's last day."""
    month_index = moment.month - 1 + months
    year, month = moment.year + month_index // 12, month_index % 12 + 1
    day = min(moment.day, calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def rfc3339(moment: datetime | None) -> str | None:
    """UTC, second precision, ``Z`` suffix, as the protocol's answers carry times."""
    if moment is None:
        return None
    return moment.astimezone(UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")
