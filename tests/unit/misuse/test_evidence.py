"""Evidence beyond earlier evidence, per rule: new things and wider spread count, time does not."""

from __future__ import annotations

from typing import Any

import pytest

from licensing.misuse.evidence import READINGS, evidence_diff, is_beyond, new_evidence
from licensing.misuse.findings import Rule


def test_every_rule_has_a_reading() -> None:
    assert set(READINGS) == set(Rule)


def overstay(*ids: str, days: float = 40.0, last: str = "2026-03-01T00:00:00Z") -> dict[str, Any]:
    return {
        "instances": len(ids),
        "activation_ids": list(ids),
        "side_by_side_days": days,
        "side_by_side": {"from": "2026-01-01T00:00:00Z", "until": last},
    }


def test_migration_overstay_a_longer_overlap_is_not_new_a_third_instance_is() -> None:
    dismissed = overstay("a1", "a2")
    assert not is_beyond(Rule.MIGRATION_OVERSTAY, dismissed, overstay("a1", "a2", days=90))
    assert new_evidence(Rule.MIGRATION_OVERSTAY, dismissed, overstay("a1", "a2", "a3")) == {
        "activations": ["a3"],
        "instances": {"was": 2, "now": 3},
    }
    # The old instance was replaced by another: a new activation, the same count.
    assert new_evidence(Rule.MIGRATION_OVERSTAY, dismissed, overstay("a1", "a9")) == {
        "activations": ["a9"]
    }


def spread(label: str, *values: str, **extra: Any) -> dict[str, Any]:
    return {
        f"distinct_{label}s": len(values),
        f"{label}s": [
            {label: v, "check_ins": 9, "last_seen": "2026-03-01T00:00:00Z"} for v in values
        ],
        "last_seen": "2026-03-01T00:00:00Z",
        **extra,
    }


@pytest.mark.parametrize(
    ("rule", "label"), [(Rule.SERVER_SPREAD, "server"), (Rule.NETWORK_SPREAD, "network")]
)
def test_spread_rules_new_values_and_larger_counts(rule: Rule, label: str) -> None:
    dismissed = spread(label, "x", "y", "z")
    later = spread(label, "x", "y", "z")
    later[f"{label}s"][0]["check_ins"] = 500
    later["last_seen"] = "2026-04-01T00:00:00Z"
    assert not is_beyond(rule, dismissed, later)
    # Fewer values (some left the window) is not new either.
    assert not is_beyond(rule, dismissed, spread(label, "x", "y"))
    assert new_evidence(rule, dismissed, spread(label, "x", "y", "w")) == {f"{label}s": ["w"]}
    assert new_evidence(rule, dismissed, spread(label, "x", "y", "z", "w")) == {
        f"{label}s": ["w"],
        f"distinct_{label}s": {"was": 3, "now": 4},
    }


def test_network_spread_more_addresses_or_servers_behind_the_same_networks_is_not_new() -> None:
    dismissed = spread("network", "n1", "n2", addresses=3, servers=2)
    assert not is_beyond(
        Rule.NETWORK_SPREAD, dismissed, spread("network", "n1", "n2", addresses=30, servers=20)
    )


def clone(*activations: dict[str, Any]) -> dict[str, Any]:
    return {"activations": list(activations), "clone_repeats": 3}


def activation(
    aid: str, networks: list[str], leases: tuple[str, ...] = (), days: int = 3
) -> dict[str, Any]:
    return {
        "activation_id": aid,
        "networks": networks,
        "days_on_two_networks": [
            {"day": f"2026-02-0{d + 1}", "networks": networks} for d in range(days)
        ],
        "superseded_leases": [{"presented": jti, "newest": "n", "at": "t"} for jti in leases],
        "servers": 1,
    }


def test_cloned_instance_more_days_of_the_same_is_not_new() -> None:
    dismissed = clone(activation("a1", ["n1", "n2"], ("j1",)))
    assert not is_beyond(
        Rule.CLONED_INSTANCE, dismissed, clone(activation("a1", ["n1", "n2"], ("j1",), days=9))
    )
    assert new_evidence(
        Rule.CLONED_INSTANCE, dismissed, clone(activation("a1", ["n1", "n2", "n3"], ("j1", "j2")))
    ) == {"networks": ["a1:n3"], "superseded_leases": ["a1:j2"]}


def test_cloned_instance_a_second_clone_is_new() -> None:
    dismissed = clone(activation("a1", ["n1", "n2"]))
    beyond = new_evidence(
        Rule.CLONED_INSTANCE,
        dismissed,
        clone(activation("a1", ["n1", "n2"]), activation("a2", ["n1", "n2"])),
    )
    assert beyond == {"activations": ["a2"], "networks": ["a2:n1", "a2:n2"]}


def churn(*taken: str, events: int = 8, fingerprints: int = 4) -> dict[str, Any]:
    """Churn evidence whose window holds ``taken`` activations (and the release of a0)."""
    timeline = [{"at": "t0", "event": "released", "activation_id": "a0"}] + [
        {"at": f"t{n + 1}", "event": "activated", "activation_id": a} for n, a in enumerate(taken)
    ]
    return {"events": events, "fingerprints": fingerprints, "timeline": timeline}


def test_activation_churn_the_same_round_sliding_on_is_not_new() -> None:
    dismissed = churn("a1", "a2", "a3")
    # The window slid: a1 left it, a4 entered; the same round of churn goes on.
    slid = churn("a2", "a3", "a4")
    assert not is_beyond(Rule.ACTIVATION_CHURN, dismissed, slid)
    assert new_evidence(Rule.ACTIVATION_CHURN, dismissed, {**slid, "events": 12}) == {
        "events": {"was": 8, "now": 12}
    }
    assert is_beyond(Rule.ACTIVATION_CHURN, dismissed, {**slid, "fingerprints": 5})


def test_activation_churn_a_new_round_of_entirely_new_activations_is_new() -> None:
    dismissed = churn(*(f"a{n}" for n in range(1, 9)))
    # Weeks later, the same size, the old seat a0 released again: only the taken ones count.
    later = churn(*(f"b{n}" for n in range(1, 9)))
    later["timeline"][0]["at"] = "w0"

    assert new_evidence(Rule.ACTIVATION_CHURN, dismissed, later) == {"episodes": ["w0"]}


def revoked(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "status": "suspended",
        "status_changed_at": "2026-02-01T00:00:00Z",
        "check_ins": 5,
        "activations": ["a1"],
        "networks": [{"network": "n1", "check_ins": 5}],
        "servers": 1,
    }
    return {**base, **changes}


def test_revoked_calling_home_more_calls_from_the_same_place_is_not_new() -> None:
    dismissed = revoked()
    assert not is_beyond(Rule.REVOKED_CALLING_HOME, dismissed, revoked(check_ins=500))
    assert new_evidence(Rule.REVOKED_CALLING_HOME, dismissed, revoked(status="revoked")) == {
        "status": ["revoked"]
    }
    assert new_evidence(
        Rule.REVOKED_CALLING_HOME,
        dismissed,
        revoked(networks=[{"network": "n1"}, {"network": "n2"}], servers=2),
    ) == {"networks": ["n2"], "servers": {"was": 1, "now": 2}}


def test_revoked_calling_home_a_second_suspension_is_new() -> None:
    dismissed = revoked()
    # Reinstated, then suspended again: the same status, the same place, another episode.
    again = revoked(status_changed_at="2026-03-15T00:00:00Z")
    assert new_evidence(Rule.REVOKED_CALLING_HOME, dismissed, again) == {
        "episodes": ["2026-03-15T00:00:00Z"]
    }


def test_version_not_covered_new_versions_or_instances() -> None:
    dismissed = {"versions": [{"version": "3.0", "check_ins": 2}], "activations": ["a1"]}
    assert not is_beyond(
        Rule.VERSION_NOT_COVERED,
        dismissed,
        {"versions": [{"version": "3.0", "check_ins": 90}], "activations": ["a1"]},
    )
    assert new_evidence(
        Rule.VERSION_NOT_COVERED,
        dismissed,
        {"versions": [{"version": "3.0"}, {"version": "3.1"}], "activations": ["a1", "a2"]},
    ) == {"versions": ["3.1"], "activations": ["a2"]}


def failures(*keys: tuple[str, int, int], bursts: tuple[str, ...] = ("t1",)) -> dict[str, Any]:
    return {
        "key_ids": [
            {
                "key_id": k,
                "worst_burst": w,
                "failures": f,
                "bursts": [{"at": at, "worst": w} for at in bursts],
            }
            for k, w, f in keys
        ],
        "threshold": 20,
    }


def test_signature_failures_a_bigger_burst_or_another_key_id_is_new_accumulation_is_not() -> None:
    dismissed = failures(("k1", 25, 40))
    assert not is_beyond(Rule.SIGNATURE_FAILURES, dismissed, failures(("k1", 25, 400)))
    assert not is_beyond(Rule.SIGNATURE_FAILURES, dismissed, failures(("k1", 21, 400)))
    assert new_evidence(Rule.SIGNATURE_FAILURES, dismissed, failures(("k1", 60, 400))) == {
        "worst_burst:k1": {"was": 25, "now": 60}
    }
    assert new_evidence(
        Rule.SIGNATURE_FAILURES, dismissed, failures(("k1", 25, 40), ("k2", 20, 20))
    ) == {"key_ids": ["k2"], "worst_burst:k2": {"was": 0, "now": 20}, "episodes": ["k2@t1"]}


def test_signature_failures_a_new_burst_of_the_same_size_is_new() -> None:
    dismissed = failures(("k1", 25, 25))
    weeks_later = failures(("k1", 25, 50), bursts=("t1", "t9"))
    assert new_evidence(Rule.SIGNATURE_FAILURES, dismissed, weeks_later) == {"episodes": ["k1@t9"]}
    # The first burst left the lookback: the second is still one the reviewer has not seen.
    assert is_beyond(Rule.SIGNATURE_FAILURES, dismissed, failures(("k1", 25, 25), bursts=("t9",)))


def test_nothing_before_means_everything_is_new() -> None:
    assert is_beyond(Rule.SERVER_SPREAD, None, spread("server", "x"))


def test_evidence_diff_is_compact() -> None:
    before = {"a": 1, "same": "x", "items": [{"server": "s1", "n": 1}, {"server": "s2", "n": 1}]}
    after = {
        "a": 2,
        "same": "x",
        "items": [{"server": "s1", "n": 5}, {"server": "s3", "n": 1}],
        "b": True,
    }
    assert evidence_diff(before, after) == {
        "a": {"was": 1, "now": 2},
        "b": {"was": None, "now": True},
        "items": {"added": ["s3"], "removed": ["s2"], "changed": ["s1"]},
    }
    assert evidence_diff(before, before) == {}
