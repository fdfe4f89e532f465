"""What a finding's evidence adds to earlier evidence: the test for reopening a dismissed
case, and the compact record of what changed when a case's evidence grows.

New evidence is something a reviewer has not seen: an activation, network, server, version,
key id or superseded lease that was not there, a larger spread (more distinct servers,
networks, instances, a bigger burst), or a new episode of a rule that comes in episodes
(another burst of invalid signatures, another round of churning activations, another
suspension). Time passing is not: a later ``last_seen``, a longer side-by-side period, more
check-ins from the same places, more days the same clone shows, failures that accumulate,
the same episode going on. Otherwise a case dismissed as a failover pair would reopen every
day the pair keeps running.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from typing import Any

from licensing.misuse.episodes import new_episodes
from licensing.misuse.findings import Rule

Evidence = Mapping[str, Any]
# Per rule: named sets of identities, and named counts of spread, read from its evidence.
Reading = tuple[dict[str, set[str]], dict[str, int]]


def _ids(entries: Any, key: str) -> set[str]:
    """The identities in a list of evidence entries (dicts carrying ``key``, or plain values)."""
    found: set[str] = set()
    for entry in entries or ():
        value = entry.get(key) if isinstance(entry, Mapping) else entry
        if value is not None:
            found.add(str(value))
    return found


def _count(evidence: Evidence, key: str) -> int:
    value = evidence.get(key)
    return value if isinstance(value, int) and not isinstance(value, bool) else 0


def _migration_overstay(e: Evidence) -> Reading:
    return {"activations": _ids(e.get("activation_ids"), "activation_id")}, {
        "instances": _count(e, "instances")
    }


def _server_spread(e: Evidence) -> Reading:
    return {"servers": _ids(e.get("servers"), "server")}, {
        "distinct_servers": _count(e, "distinct_servers")
    }


def _network_spread(e: Evidence) -> Reading:
    return {"networks": _ids(e.get("networks"), "network")}, {
        "distinct_networks": _count(e, "distinct_networks")
    }


def _cloned_instance(e: Evidence) -> Reading:
    activations = [a for a in e.get("activations") or () if isinstance(a, Mapping)]
    return {
        "activations": _ids(activations, "activation_id"),
        # Per activation, so the same network showing on another clone is new too.
        "networks": {
            f"{a.get('activation_id')}:{network}"
            for a in activations
            for network in a.get("networks") or ()
        },
        "superseded_leases": {
            f"{a.get('activation_id')}:{lease}"
            for a in activations
            for lease in _ids(a.get("superseded_leases"), "presented")
        },
    }, {}


def _activation_churn(e: Evidence) -> Reading:
    # The window slides: the same activations leave it, new ones enter. A higher rate or
    # more machines involved is new; a new round of churn is an episode (misuse/episodes.py).
    return {}, {"events": _count(e, "events"), "fingerprints": _count(e, "fingerprints")}


def _revoked_calling_home(e: Evidence) -> Reading:
    status = e.get("status")
    return {
        "status": {str(status)} if status else set(),
        "activations": _ids(e.get("activations"), "activation_id"),
        "networks": _ids(e.get("networks"), "network"),
    }, {"servers": _count(e, "servers")}


def _version_not_covered(e: Evidence) -> Reading:
    return {
        "versions": _ids(e.get("versions"), "version"),
        "activations": _ids(e.get("activations"), "activation_id"),
    }, {}


def _signature_failures(e: Evidence) -> Reading:
    key_ids = [k for k in e.get("key_ids") or () if isinstance(k, Mapping)]
    return {"key_ids": _ids(key_ids, "key_id")}, {
        f"worst_burst:{k.get('key_id')}": _count(k, "worst_burst") for k in key_ids
    }


READINGS: Mapping[Rule, Callable[[Evidence], Reading]] = {
    Rule.MIGRATION_OVERSTAY: _migration_overstay,
    Rule.SERVER_SPREAD: _server_spread,
    Rule.NETWORK_SPREAD: _network_spread,
    Rule.CLONED_INSTANCE: _cloned_instance,
    Rule.ACTIVATION_CHURN: _activation_churn,
    Rule.REVOKED_CALLING_HOME: _revoked_calling_home,
    Rule.VERSION_NOT_COVERED: _version_not_covered,
    Rule.SIGNATURE_FAILURES: _signature_failures,
}


def new_evidence(rule: Rule, before: Evidence | None, after: Evidence) -> dict[str, Any]:
    """What ``after`` holds beyond ``before``: new identities per kind, larger counts
    (``{"count": {"was": 3, "now": 5}}``) and new episodes (``{"episodes": [name]}``).
    Empty when nothing is new."""
    read = READINGS[rule]
    old_sets, old_counts = read(before or {})
    new_sets, new_counts = read(after)
    beyond: dict[str, Any] = {}
    for name, values in new_sets.items():
        added = sorted(values - old_sets.get(name, set()))
        if added:
            beyond[name] = added
    for name, value in new_counts.items():
        was = old_counts.get(name, 0)
        if value > was:
            beyond[name] = {"was": was, "now": value}
    episodes = new_episodes(rule, before or {}, after)
    if episodes:
        beyond["episodes"] = episodes
    return beyond


def is_beyond(rule: Rule, before: Evidence | None, after: Evidence) -> bool:
    """Whether ``after`` holds evidence beyond ``before`` (a dismissed case reopens on it)."""
    return bool(new_evidence(rule, before, after))


# Entries of evidence lists are told apart by the first of these keys they carry.
_IDENTITY_KEYS = ("activation_id", "server", "network", "version", "key_id", "at", "day")


def _identity(entry: Any) -> str:
    if isinstance(entry, Mapping):
        for key in _IDENTITY_KEYS:
            if key in entry:
                return str(entry[key])
    return str(entry)


def _list_diff(before: Iterable[Any], after: Iterable[Any]) -> dict[str, list[str]]:
    old = {_identity(e): e for e in before}
    new = {_identity(e): e for e in after}
    diff = {
        "added": sorted(k for k in new if k not in old),
        "removed": sorted(k for k in old if k not in new),
        "changed": sorted(k for k in new if k in old and new[k] != old[k]),
    }
    return {k: v for k, v in diff.items() if v}


def evidence_diff(before: Evidence, after: Evidence) -> dict[str, Any]:
    """A compact record of how evidence changed, key by key: lists by the identities added,
    removed and changed; other values as ``{"was": ..., "now": ...}``. Equal keys are left out."""
    diff: dict[str, Any] = {}
    for key in sorted({*before, *after}):
        old, new = before.get(key), after.get(key)
        if old == new:
            continue
        if isinstance(old, list) and isinstance(new, list):
            diff[key] = _list_diff(old, new)
        elif isinstance(old, Mapping) and isinstance(new, Mapping):
            diff[key] = evidence_diff(old, new)
        else:
            diff[key] = {"was": old, "now": new}
    return diff
