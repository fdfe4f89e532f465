"""The rules' thresholds, with the defaults of the design, read from configuration or a backtest."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta

# The largest value each threshold takes: beyond them no evidence is kept to look at
# (the pseudonymised observations are kept 13 months) and the windows overflow the dates.
MAX_LOOKBACK_DAYS = 400
_MAX_COUNT = 1_000_000
_LARGEST = {
    "lookback_days": MAX_LOOKBACK_DAYS,
    "churn_days": MAX_LOOKBACK_DAYS,
    "revoked_grace_hours": 24 * MAX_LOOKBACK_DAYS,
    "signature_window_minutes": 60 * 24 * 30,
}


@dataclass(frozen=True, slots=True)
class Thresholds:
    """Each value is the largest that stays quiet unless its name says otherwise."""

    lookback_days: int = 30  # the window the spread and version rules look at
    server_spread_factor: int = 3  # SERVER_SPREAD: distinct servers > factor x allowed seats
    network_spread_networks: int = 5  # NETWORK_SPREAD: distinct /24 or /48 networks > this
    clone_repeats: int = 3  # CLONED_INSTANCE: days split across networks, fires at this many
    clone_lease_conflicts: int = 2  # CLONED_INSTANCE: superseded leases beside the newest
    churn_days: int = 7  # ACTIVATION_CHURN's window
    churn_events: int = 6  # ACTIVATION_CHURN: activations + releases in the window > this
    revoked_grace_hours: int = 24  # a client may still call until it has heard the answer
    revoked_calls: int = 3  # REVOKED_CALLING_HOME: check-ins after the grace, fires at this
    signature_window_minutes: int = 60  # SIGNATURE_FAILURES' burst window
    signature_burst: int = 20  # SIGNATURE_FAILURES: failures in one window, fires at this

    @classmethod
    def names(cls) -> tuple[str, ...]:
        return tuple(f.name for f in dataclasses.fields(cls))

    @classmethod
    def from_mapping(
        cls, values: Mapping[str, object], base: Thresholds | None = None
    ) -> Thresholds:
        """Thresholds from configuration or ``--threshold NAME=VALUE``: whole numbers from 1
        to the threshold's largest (``largest``).

        Unknown names are an error rather than ignored, so a typo never silently tunes nothing.
        """
        known = cls.names()
        unknown = sorted(set(values) - set(known))
        if unknown:
            raise ValueError(
                f"unknown misuse threshold(s) {', '.join(unknown)}; known: {', '.join(known)}"
            )
        parsed = {name: _whole_number(name, value) for name, value in values.items()}
        return dataclasses.replace(base or cls(), **parsed)

    @staticmethod
    def largest(name: str) -> int:
        return _LARGEST.get(name, _MAX_COUNT)

    @property
    def lookback(self) -> timedelta:
        return timedelta(days=self.lookback_days)

    @property
    def churn_window(self) -> timedelta:
        return timedelta(days=self.churn_days)

    @property
    def revoked_grace(self) -> timedelta:
        return timedelta(hours=self.revoked_grace_hours)

    @property
    def signature_window(self) -> timedelta:
        return timedelta(minutes=self.signature_window_minutes)


def _whole_number(name: str, value: object) -> int:
    if isinstance(value, bool):
        raise ValueError(f"misuse threshold {name} must be a whole number, not {value!r}")
    if isinstance(value, int):
        number = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        digits = value.strip().lstrip("0") or "0"
        # A number of thousands of digits is refused by int() itself: it is too large anyway.
        number = int(digits) if len(digits) <= 18 else 10**18
    else:
        raise ValueError(f"misuse threshold {name} must be a whole number, not {value!r}")
    if number < 1:
        raise ValueError(f"misuse threshold {name} must be at least 1, not {number}")
    largest = Thresholds.largest(name)
    if number > largest:
        shown = value.strip() if isinstance(value, str) and len(value.strip()) <= 30 else number
        raise ValueError(f"misuse threshold {name} must be at most {largest}, not {shown}")
    return number
