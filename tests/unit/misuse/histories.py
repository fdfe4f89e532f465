"""Synthetic license histories for the rule tests, and their pseudonymised twins."""

from __future__ import annotations

import dataclasses
import hashlib
import hmac
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from licensing.misuse.history import (
    ActivationTimeline,
    LeasePresentation,
    LicenseHistory,
    Observation,
)

NOW = datetime(2026, 6, 30, 12, 0, tzinfo=UTC)
DAY = timedelta(days=1)
HOUR = timedelta(hours=1)
OFFICE = "198.51.100.0/24"


def aid(number: int) -> str:
    """The id of synthetic activation or license ``number``, as the scan writes ids: a UUID's
    text (fixed width, so ids sort as their numbers do)."""
    return str(uuid.UUID(int=number))


def days_ago(days: float) -> datetime:
    return NOW - days * DAY


def daily(
    activation_id: int,
    from_days_ago: int,
    until_days_ago: int = 0,
    *,
    network: str = OFFICE,
    server: str = "app-1.example.com",
    ip: str = "198.51.100.7",
    version: str = "2.0.0",
    first_hour: int = 0,
    last_hour: int = 23,
) -> list[Observation]:
    """Hourly check-ins of one instance, one aggregate per day, days counted back from NOW."""
    observations = []
    for back in range(from_days_ago, until_days_ago - 1, -1):
        day = (NOW - back * DAY).date()
        midnight = datetime(day.year, day.month, day.day, tzinfo=UTC)
        observations.append(
            Observation(
                activation_id=aid(activation_id),
                day=day,
                first_seen=midnight + first_hour * HOUR,
                last_seen=midnight + last_hour * HOUR,
                count=last_hour - first_hour + 1,
                ip_key=ip,
                network=network,
                server_key=server,
                product_version=version,
            )
        )
    return observations


def seat(activation_id: int, activated_days_ago: float, **values: Any) -> ActivationTimeline:
    return ActivationTimeline(
        activation_id=aid(activation_id),
        fingerprint=values.pop("fingerprint", f"fp-{activation_id}"),
        activated_at=days_ago(activated_days_ago),
        **values,
    )


def history(**values: Any) -> LicenseHistory:
    defaults: dict[str, Any] = {
        "license_id": aid(7),
        "status": "active",
        "allowed_activations": 1,
        "migration_window": 30 * DAY,
        "check_in_interval": HOUR,
    }
    return LicenseHistory(**(defaults | values))


def lease_chain_clones(presentations: int) -> list[LeasePresentation]:
    """Two machines sharing one activation's state, checking in alternately: each presents
    the lease it last received, which the other machine has since superseded, and is
    answered with a new one."""
    held = {"a": "jti-0", "b": "jti-0"}
    newest = "jti-0"
    chain = []
    for number in range(presentations):
        machine = "ab"[number % 2]
        at = NOW - (presentations - number) * HOUR
        issued = f"jti-{number + 1}"
        chain.append(LeasePresentation(aid(1), held[machine], newest, at, OFFICE, issued))
        newest = issued
        held[machine] = newest
    return chain


def clones_taking_turns(turns: str) -> list[LeasePresentation]:
    """Two machines on one copied state checking in in the order ``turns`` (``"aabb"``),
    each presenting the lease it last received and answered with a new one. Only a
    superseded lease leaves a row, as the server stores them: a machine checking in twice
    in a row presents the newest lease the second time and leaves none."""
    held = {"a": "jti-0", "b": "jti-0"}
    newest = "jti-0"
    rows = []
    for number, machine in enumerate(turns):
        at = NOW - (len(turns) - number) * HOUR
        issued = f"jti-{number + 1}"
        if held[machine] != newest:
            rows.append(LeasePresentation(aid(1), held[machine], newest, at, OFFICE, issued))
        newest = held[machine] = issued
    return rows


def stored(chain: list[LeasePresentation]) -> list[LeasePresentation]:
    """The presentations the server keeps a row of: the superseded ones."""
    return [p for p in chain if p.superseded]


def reordered_retry(
    presentations: int, retried: tuple[int, ...], *, keeps_original: bool
) -> list[LeasePresentation]:
    """One machine checking in hourly whose check-ins ``retried`` are retried after a
    timeout: each retry lands after its original and presents the same lease, which the
    original's answer has superseded. The machine goes on with one answer only: the
    original's (it arrived late, the retry's is dropped) or the retry's."""
    chain = []
    held = newest = "jti-0"
    issued_count = 0
    for number in range(presentations):
        at = NOW - (presentations - number) * HOUR
        answers = []
        for moment in [at, at + timedelta(seconds=10)] if number in retried else [at]:
            issued_count += 1
            answers.append(f"jti-{issued_count}")
            chain.append(LeasePresentation(aid(1), held, newest, moment, OFFICE, answers[-1]))
            newest = answers[-1]
        held = answers[0] if keeps_original else answers[-1]
    return chain


def _keyed(value: str | None) -> str | None:
    if value is None:
        return None
    return hmac.new(b"pseudonymisation key", value.encode(), hashlib.sha256).hexdigest()


def pseudonymised(original: LicenseHistory) -> LicenseHistory:
    """The same history with every address, network, server name and fingerprint replaced
    by a keyed hash, as the data-protection jobs store it after raw retention ends."""
    return dataclasses.replace(
        original,
        activations=tuple(
            dataclasses.replace(a, fingerprint=_keyed(a.fingerprint) or "")
            for a in original.activations
        ),
        observations=tuple(
            dataclasses.replace(
                o,
                ip_key=_keyed(o.ip_key),
                network=_keyed(o.network),
                server_key=_keyed(o.server_key),
            )
            for o in original.observations
        ),
        lease_presentations=tuple(
            dataclasses.replace(p, network=_keyed(p.network)) for p in original.lease_presentations
        ),
    )
