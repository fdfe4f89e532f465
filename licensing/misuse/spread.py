"""Rules over how widely one license is used: distinct servers and distinct networks.

Networks are the stored prefixes, the same in every month. Servers and addresses are
keyed hashes made under each month's key: they are counted within one key period
(``history.distinct_per_period``) and listed with the period they were hashed in.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from licensing.misuse.findings import Finding, Rule, Severity, seen
from licensing.misuse.history import LicenseHistory, Observation, distinct_per_period
from licensing.misuse.thresholds import Thresholds


def distinct_values(
    observations: list[Observation],
    key: Callable[[Observation], str | None],
    label: str,
    *,
    hashed: bool = False,
) -> list[dict[str, Any]]:
    """Each distinct value with its check-ins, activations and first and last seen;
    ``hashed``: a keyed hash, told apart per key period and listed with it."""
    found: dict[tuple[str, str], list[Observation]] = {}
    for observation in observations:
        value = key(observation)
        if value is not None:
            period = observation.key_period if hashed else ""
            found.setdefault((period, value), []).append(observation)
    summary = [
        {
            label: value,
            **({"period": period} if hashed else {}),
            "check_ins": sum(o.count for o in group),
            "activations": sorted({o.activation_id for o in group}),
            **seen(min(o.first_seen for o in group), max(o.last_seen for o in group)),
        }
        for (period, value), group in found.items()
    ]
    return sorted(summary, key=lambda entry: (entry["first_seen"], entry[label]))


def _span(observations: list[Observation]) -> tuple[datetime, datetime]:
    return min(o.first_seen for o in observations), max(o.last_seen for o in observations)


def server_spread(history: LicenseHistory, thresholds: Thresholds, now: datetime) -> list[Finding]:
    """More distinct server names than a few per seat: one key installed on many servers."""
    recent = [o for o in history.observations_since(now - thresholds.lookback) if o.server_key]
    limit = thresholds.server_spread_factor * history.allowed_activations
    # Counted before the evidence is built: most licenses stay quiet, and a scan asks all.
    # Within one key period: a server's hash changes with the month.
    distinct = distinct_per_period(recent, lambda o: o.server_key)
    if distinct <= limit:
        return []
    servers = distinct_values(recent, lambda o: o.server_key, "server", hashed=True)
    first, last = _span(recent)
    return [
        Finding(
            rule=Rule.SERVER_SPREAD,
            severity=Severity.MEDIUM,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=(
                f"{distinct} distinct servers in {thresholds.lookback_days} days "
                f"for {history.allowed_activations} allowed activation(s)"
            ),
            evidence={
                "distinct_servers": distinct,  # in the key period that saw the most
                "limit": limit,
                "allowed_activations": history.allowed_activations,
                "window_days": thresholds.lookback_days,
                "servers": servers,
                "networks": len({o.network for o in recent if o.network}),
                **seen(first, last),
                "ruled_out": (
                    f"reinstalls, renames and migrations: up to {thresholds.server_spread_factor} "
                    "servers per allowed activation"
                ),
            },
        )
    ]


def network_spread(history: LicenseHistory, thresholds: Thresholds, now: datetime) -> list[Finding]:
    """Check-ins from many distinct networks: the key used at many sites. Many servers behind
    one NAT count as one network, so an office does not fire."""
    recent = [o for o in history.observations_since(now - thresholds.lookback) if o.network]
    if len({o.network for o in recent}) <= thresholds.network_spread_networks:
        return []
    networks = distinct_values(recent, lambda o: o.network, "network")
    first, last = _span(recent)
    return [
        Finding(
            rule=Rule.NETWORK_SPREAD,
            severity=Severity.LOW,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=f"{len(networks)} distinct networks in {thresholds.lookback_days} days",
            evidence={
                "distinct_networks": len(networks),
                "threshold": thresholds.network_spread_networks,
                "window_days": thresholds.lookback_days,
                "networks": networks,
                "servers": distinct_per_period(recent, lambda o: o.server_key),
                "addresses": distinct_per_period(recent, lambda o: o.ip_key),
                **seen(first, last),
                "ruled_out": (
                    "many servers behind one address translation (one network) and address "
                    "changes within one /24 or /48 network"
                ),
            },
        )
    ]
