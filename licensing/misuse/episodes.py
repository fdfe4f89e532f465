"""Episodes: the rules whose findings come and go in episodes, and what makes one new.

A burst of invalid signatures, a round of churning activations and a suspension each end;
a dismissed case of them must reopen on the next one even when it is the same size, and
stay dismissed while the same one goes on. Each episode is named and made of members (the
burst's key id and start, the churning activations, the time of the change of status); an
episode is new when it shares no member with an earlier one.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from licensing.misuse.findings import Rule

Evidence = Mapping[str, Any]
Episodes = dict[str, frozenset[str]]


def _ids(entries: Any, key: str) -> frozenset[str]:
    return frozenset(
        str(entry[key]) for entry in entries if isinstance(entry, Mapping) and entry.get(key)
    )


def _churn_episodes(e: Evidence) -> Episodes:
    """One episode: the activations that churned (those taken in the window; the released
    ones only when none was taken), named by its first event."""
    timeline = [t for t in e.get("timeline") or () if isinstance(t, Mapping)]
    if not timeline:
        return {}
    taken = [t for t in timeline if t.get("event") == "activated"] or timeline
    return {str(timeline[0].get("at")): _ids(taken, "activation_id")}


def _suspension_episodes(e: Evidence) -> Episodes:
    """One episode per change of status: a second suspension is another one."""
    changed = e.get("status_changed_at")
    return {str(changed): frozenset({str(changed)})} if changed else {}


def _burst_episodes(e: Evidence) -> Episodes:
    """Each burst of invalid signatures, by its key id and the start of its first window."""
    episodes = {}
    for key in e.get("key_ids") or ():
        if isinstance(key, Mapping):
            for burst in key.get("bursts") or ():
                if isinstance(burst, Mapping) and burst.get("at"):
                    name = f"{key.get('key_id')}@{burst['at']}"
                    episodes[name] = frozenset({name})
    return episodes


EPISODES: Mapping[Rule, Callable[[Evidence], Episodes]] = {
    Rule.ACTIVATION_CHURN: _churn_episodes,
    Rule.REVOKED_CALLING_HOME: _suspension_episodes,
    Rule.SIGNATURE_FAILURES: _burst_episodes,
}


def new_episodes(rule: Rule, before: Evidence, after: Evidence) -> list[str]:
    """The names of the episodes in ``after`` that share no member with one in ``before``."""
    read = EPISODES.get(rule)
    if read is None:
        return []
    seen_members = set().union(*read(before).values())
    return sorted(name for name, members in read(after).items() if not members & seen_members)
