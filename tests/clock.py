"""A clock the test sets: the product's ``utcnow`` reads it.

Audit events go only once they are past the audit period at the real time of the prune,
so a test that prunes them runs the prune years after it wrote them.
"""

from __future__ import annotations

from datetime import UTC, datetime, tzinfo

import pytest

from licensing import timeutil


class Clock:
    def __init__(self, monkeypatch: pytest.MonkeyPatch, moment: datetime) -> None:
        self.moment = moment
        clock = self

        class _Set(datetime):
            @classmethod
            def now(cls, tz: tzinfo | None = None) -> datetime:  # type: ignore[override]
                return clock.moment.astimezone(tz or UTC)

        monkeypatch.setattr(timeutil, "datetime", _Set)

    def set(self, moment: datetime) -> None:
        self.moment = moment
