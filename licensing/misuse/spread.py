"""Rules over how widely one license is used: distinct servers and distinct networks."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from licensing.misuse.findings import Finding, Rule, Severity, seen
from licensing.misuse.history import LicenseHistory, Observation
from licensing.misuse.thresholds import Thresholds


def distinct_values(
    observations: list[Observation], key: Callable[[Observation], str | None], label: str
) -> list[dict[str, Any]]:
    """Each distinct value with its check-ins, activations and first and last seen."""
    found: dict[str, list[Observation]] = {}
    for observation in observations:
        value = key(observation)
        if value is not None:
            found.setdefault(value, []).append(observation)
    summary = [
        {
            label: value,
            "check_ins": sum(o.count for o in group),
            "activations": sorted({o.activation_id for o in group}),
            **seen(min(o.first_seen for o in group), max(o.last_seen for o in group)),
        }
        for value, group in found.items()
    ]
    return sorted(summary, key=lambda entry: (entry["first_seen"], entry[label]))


def _span(observations: list[Observation]) -> tuple[datetime, datetime]:
    return min(o.first_seen for o in observations), max(o.last_seen for o in observations)


def server_spread(history: LicenseHistory, thresholds: Thresholds, now: datetime) -> list[Finding]:
    """More distinct server names than a few per seat: one key installed on many servers."""
    recent = [o for o in history.observations_since(now - thresholds.lookback) if o.server_key]
    limit = thresholds.server_spread_factor * history.allowed_activations
    # Counted before the evidence is built: most licenses stay quiet, and a scan asks all.
    if len({o.server_key for o in recent}) <= limit:
        return []
    servers = distinct_values(recent, lambda o: o.server_key, "server")
    first, last = _span(recent)
    return [
        Finding(
            rule=Rule.SERVER_SPREAD,
            severity=Severity.MEDIUM,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=(
                f"{len(servers)} distinct servers in {thresholds.lookback_days} days "
                f"for {history.allowed_activations} allowed activation(s)"
            ),
            evidence={
                "distinct_servers": len(servers),
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
                "servers": len({o.server_key for o in recent if o.server_key}),
                "addresses": len({o.ip_key for o in recent if o.ip_key}),
                **seen(first, last),
                "ruled_out": (
                    "many servers behind one address translation (one network) and address "
                    "changes within one /24 or /48 network"
                ),
            },
        )
    ]
