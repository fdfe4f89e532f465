"""CLONED_INSTANCE: one activation running on two machines at once (a copied VM image).

Two independent signs, each enough alone: the activation checks in from two networks
within one interval on several days, or it presents a superseded lease while the newest
lease is also in use (two machines cannot both hold the newest one).
"""

from __future__ import annotations

from collections import defaultdict
from datetime import date, datetime
from typing import Any

from licensing.misuse.findings import Finding, Rule, Severity, seen
from licensing.misuse.history import LeasePresentation, LicenseHistory, Observation
from licensing.misuse.thresholds import Thresholds
from licensing.timeutil import rfc3339


def split_days(history: LicenseHistory, since: datetime) -> dict[str, list[dict[str, Any]]]:
    """Per activation, the days it was seen from two networks less than one interval apart.
    A one-off move (a new address, a data-centre change) shows on one day only."""
    by_day: dict[tuple[str, date], dict[str, list[Observation]]] = defaultdict(dict)
    for o in history.observations_since(since):
        if o.network:
            by_day[(o.activation_id, o.day)].setdefault(o.network, []).append(o)
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for (activation_id, day), networks in sorted(by_day.items()):
        ranges = {
            network: (min(o.first_seen for o in group), max(o.last_seen for o in group))
            for network, group in networks.items()
        }
        clashing = sorted(
            {
                network
                for network, (first, last) in ranges.items()
                for other, (other_first, other_last) in ranges.items()
                if other != network
                and max(first, other_first) - min(last, other_last) <= history.check_in_interval
            }
        )
        if len(clashing) >= 2:
            found[activation_id].append({"day": day.isoformat(), "networks": clashing})
    return found


def lease_conflicts(history: LicenseHistory, since: datetime) -> dict[str, list[LeasePresentation]]:
    """Per activation, the superseded leases presented while the newest one was also in use.
    A restore from an older backup presents one old lease, but nobody holds the newest."""
    presented: dict[str, set[str]] = defaultdict(set)
    for p in history.lease_presentations:
        presented[p.activation_id].add(p.presented_jti)
    found: dict[str, list[LeasePresentation]] = defaultdict(list)
    for p in sorted(history.lease_presentations, key=lambda p: p.at):
        if p.at >= since and p.superseded and p.newest_jti in presented[p.activation_id]:
            found[p.activation_id].append(p)
    return found


def cloned_instance(
    history: LicenseHistory, thresholds: Thresholds, now: datetime
) -> list[Finding]:
    """Activations showing either sign often enough; the evidence holds both signs for each."""
    since = now - thresholds.lookback
    days = split_days(history, since)
    leases = lease_conflicts(history, since)
    cloned = sorted(
        {a for a, found in days.items() if len(found) >= thresholds.clone_repeats}
        | {a for a, found in leases.items() if len(found) >= thresholds.clone_lease_conflicts}
    )
    if not cloned:
        return []
    evidence = []
    moments: list[datetime] = []
    for activation_id in cloned:
        observed = [
            o for o in history.observations_since(since) if o.activation_id == activation_id
        ]
        moments += [o.first_seen for o in observed] + [o.last_seen for o in observed]
        moments += [p.at for p in leases.get(activation_id, [])]
        evidence.append(
            {
                "activation_id": activation_id,
                "days_on_two_networks": days.get(activation_id, []),
                "superseded_leases": [
                    {
                        "at": rfc3339(p.at),
                        "presented": p.presented_jti,
                        "newest": p.newest_jti,
                        "network": p.network,
                    }
                    for p in leases.get(activation_id, [])
                ],
                "networks": sorted({o.network for o in observed if o.network}),
                "servers": len({o.server_key for o in observed if o.server_key}),
            }
        )
    first, last = min(moments), max(moments)
    return [
        Finding(
            rule=Rule.CLONED_INSTANCE,
            severity=Severity.HIGH,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=f"{len(cloned)} activation(s) running on more than one machine",
            evidence={
                "activations": evidence,
                "clone_repeats": thresholds.clone_repeats,
                "clone_lease_conflicts": thresholds.clone_lease_conflicts,
                **seen(first, last),
                "ruled_out": (
                    "a move to a new network (seen on one day only) and a restore from an "
                    "older backup (an old lease presented, but the newest one held by no one)"
                ),
            },
        )
    ]
