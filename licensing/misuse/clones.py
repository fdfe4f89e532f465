"""CLONED_INSTANCE: one activation running on two machines at once (a copied VM image).

Two independent signs, each enough alone: the activation checks in from the same two
networks within one interval on several days (or interleaved within a day), or it presents
a superseded lease while both the newest lease and the one issued in answer are used later
(two machines cannot both hold the newest one).
"""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import date, datetime, timedelta
from typing import Any

from licensing.misuse.findings import Finding, Rule, Severity, seen
from licensing.misuse.history import (
    LeasePresentation,
    LicenseHistory,
    Observation,
    distinct_per_period,
)
from licensing.misuse.thresholds import Thresholds
from licensing.timeutil import rfc3339

Pair = tuple[str, str]


def _near_pairs(
    ranges: dict[str, tuple[datetime, datetime]], interval: timedelta
) -> tuple[set[Pair], set[Pair]]:
    """The pairs of networks seen less than one interval apart on one day, and among them
    the interleaved ones (their sightings overlap: A, B, A), which a move cannot produce."""
    near: set[Pair] = set()
    interleaved: set[Pair] = set()
    for network, (first, last) in ranges.items():
        for other, (other_first, other_last) in ranges.items():
            if network < other:
                gap = max(first, other_first) - min(last, other_last)
                if gap <= interval:
                    near.add((network, other))
                if gap < timedelta(0):
                    interleaved.add((network, other))
    return near, interleaved


def split_days(
    history: LicenseHistory, since: datetime, repeats: int
) -> dict[str, list[dict[str, Any]]]:
    """Per activation, the days it was seen from two networks at once: the same pair of
    networks less than one interval apart on ``repeats`` days or more, or interleaved
    within a day.
    A machine that moves (a new address, a data-centre change) shows each pair on one day
    only, never going back: {A, B}, then {B, C}, then {C, D}."""
    by_day: dict[tuple[str, date], dict[str, list[Observation]]] = defaultdict(dict)
    for o in history.observations_since(since):
        if o.network:
            by_day[(o.activation_id, o.day)].setdefault(o.network, []).append(o)
    days: dict[str, list[tuple[date, set[Pair], set[Pair]]]] = defaultdict(list)
    for (activation_id, day), networks in sorted(by_day.items()):
        ranges = {
            network: (min(o.first_seen for o in group), max(o.last_seen for o in group))
            for network, group in networks.items()
        }
        near, interleaved = _near_pairs(ranges, history.check_in_interval)
        if near:
            days[activation_id].append((day, near, interleaved))
    found: dict[str, list[dict[str, Any]]] = defaultdict(list)
    for activation_id, split in days.items():
        pair_days = Counter(pair for _, near, _ in split for pair in near)
        for day, near, interleaved in split:
            clashing = interleaved | {pair for pair in near if pair_days[pair] >= repeats}
            if clashing:
                clashing_networks = sorted({network for pair in clashing for network in pair})
                found[activation_id].append({"day": day.isoformat(), "networks": clashing_networks})
    return found


def lease_conflicts(history: LicenseHistory, since: datetime) -> dict[str, list[LeasePresentation]]:
    """Per activation, the superseded leases presented while both branches went on: the
    lease that was newest then and the lease issued in answer were both used later.
    Two machines on one state keep both branches alive. A client retry that lands after its
    original leaves one branch dead (the client goes on with one of the two answers), and a
    restore from an older backup presents one old lease while nobody holds the newest."""
    by_activation: dict[str, list[LeasePresentation]] = defaultdict(list)
    for p in sorted(history.lease_presentations, key=lambda p: p.at):
        by_activation[p.activation_id].append(p)
    found: dict[str, list[LeasePresentation]] = defaultdict(list)
    for activation_id, rows in by_activation.items():
        for index, p in enumerate(rows):
            if p.at < since or not p.superseded:
                continue
            later = rows[index + 1 :]
            if _used_later(p.newest_jti, p, later) and _issued_used_later(p, later):
                found[activation_id].append(p)
    return found


def _used_later(jti: str, p: LeasePresentation, later: list[LeasePresentation]) -> bool:
    return any(q.presented_jti == jti and q.at > p.at for q in later)


def _issued_used_later(p: LeasePresentation, later: list[LeasePresentation]) -> bool:
    """Whether the lease issued in answer to ``p`` was used later. Only a superseded lease
    leaves a row: a check-in presenting the newest lease leaves none, yet it is answered
    with a new one. So ours was used when a later row presents it, or when the next row
    names a newest lease other than ours: in between, a check-in presented the newest lease,
    ours, and was answered. The lease that was newest before ``p`` needs no such reading:
    once ``p`` was answered it is superseded, so presenting it always leaves a row."""
    issued = p.issued_jti
    if issued is None:
        return False  # no lease was answered: there is no second branch
    if _used_later(issued, p, later):
        return True
    following = next((q for q in later if q.at > p.at), None)
    return following is not None and following.newest_jti != issued


def cloned_instance(
    history: LicenseHistory, thresholds: Thresholds, now: datetime
) -> list[Finding]:
    """Activations showing either sign often enough; the evidence holds both signs for each."""
    since = now - thresholds.lookback
    days = split_days(history, since, thresholds.clone_repeats)
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
                        "issued": p.issued_jti,
                        "network": p.network,
                    }
                    for p in leases.get(activation_id, [])
                ],
                "networks": sorted({o.network for o in observed if o.network}),
                "servers": distinct_per_period(observed, lambda o: o.server_key),
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
                    "moves to new networks (each pair of networks seen on one day only), a "
                    "restore from an older backup (an old lease presented, but the newest one "
                    "held by no one) and a retried check-in (one of the two leases never used)"
                ),
            },
        )
    ]
