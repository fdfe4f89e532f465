"""CLONED_INSTANCE by networks and by the lease chain, and its look-alikes."""

from __future__ import annotations

from dataclasses import replace

import pytest

from licensing.misuse.clones import cloned_instance
from licensing.misuse.history import LeasePresentation
from licensing.misuse.thresholds import Thresholds
from tests.unit.misuse.histories import (
    DAY,
    HOUR,
    NOW,
    OFFICE,
    aid,
    clones_taking_turns,
    daily,
    history,
    lease_chain_clones,
    reordered_retry,
    stored,
)

DEFAULTS = Thresholds()


def test_one_activation_on_two_networks_at_once_repeatedly_is_a_clone() -> None:
    both = daily(1, 4) + daily(1, 4, network="192.0.2.0/24", ip="192.0.2.9", server="copy")

    (finding,) = cloned_instance(history(observations=tuple(both)), DEFAULTS, NOW)

    (activation,) = finding.evidence["activations"]
    assert activation["activation_id"] == aid(1)
    assert len(activation["days_on_two_networks"]) == 5
    assert activation["networks"] == ["192.0.2.0/24", OFFICE]


def test_a_move_to_a_new_network_is_not_a_clone() -> None:
    moved = daily(1, 10, 5, last_hour=9) + daily(1, 5, network="192.0.2.0/24", first_hour=11)

    assert cloned_instance(history(observations=tuple(moved)), DEFAULTS, NOW) == []


def test_two_split_days_are_below_the_repeat_threshold() -> None:
    both = daily(1, 1) + daily(1, 1, network="192.0.2.0/24")

    assert cloned_instance(history(observations=tuple(both)), DEFAULTS, NOW) == []


def test_two_machines_sharing_one_lease_chain_are_a_clone() -> None:
    chain = lease_chain_clones(6)

    (finding,) = cloned_instance(history(lease_presentations=tuple(chain)), DEFAULTS, NOW)

    (activation,) = finding.evidence["activations"]
    superseded = activation["superseded_leases"]
    # presentations 1 to 3: the newest lease then and the one issued in answer were both
    # presented later; 4 and 5 are too recent for both branches to have shown yet
    assert [s["presented"] for s in superseded] == ["jti-0", "jti-1", "jti-2"]
    assert superseded[0] == {
        "at": superseded[0]["at"],
        "presented": "jti-0",
        "newest": "jti-1",
        "issued": "jti-2",
        "network": OFFICE,
    }


@pytest.mark.parametrize("keeps_original", [True, False])
def test_retries_landing_after_their_originals_are_not_a_clone(keeps_original: bool) -> None:
    # Each retry presents a lease the original's answer superseded; the machine goes on
    # with one of the two answers, so the other branch is dead every time.
    chain = reordered_retry(12, retried=(2, 5, 8), keeps_original=keeps_original)
    assert sum(p.superseded for p in chain) >= 3

    assert cloned_instance(history(lease_presentations=tuple(chain)), DEFAULTS, NOW) == []
    assert cloned_instance(history(lease_presentations=tuple(stored(chain))), DEFAULTS, NOW) == []


def test_clones_taking_turns_unevenly_are_a_clone() -> None:
    # A machine checking in twice running presents the newest lease and leaves no row: that
    # the lease issued to it was used shows as the newest lease having moved on.
    rows = clones_taking_turns("aabb" * 3)

    (finding,) = cloned_instance(history(lease_presentations=tuple(rows)), DEFAULTS, NOW)

    (activation,) = finding.evidence["activations"]
    assert [s["presented"] for s in activation["superseded_leases"]] == [
        "jti-0",
        "jti-2",
        "jti-4",
        "jti-6",
    ]


def test_a_lease_conflict_without_a_lease_in_answer_has_a_dead_branch() -> None:
    chain = [
        p if p.issued_jti is None or not p.superseded else replace(p, issued_jti=None)
        for p in lease_chain_clones(6)
    ]

    assert cloned_instance(history(lease_presentations=tuple(chain)), DEFAULTS, NOW) == []


def test_a_mover_whose_address_changes_three_times_is_not_a_clone() -> None:
    # With a 24-hour interval any two networks on one day are "near": the mover shows
    # {A, B}, {B, C} and {C, D} on three days, never a pair twice and never going back.
    nets = ["192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "233.252.0.0/24"]
    moves = [(20, 14, 0, 1), (14, 7, 1, 2), (7, 0, 2, 3)]
    mover = []
    for start, end, old, new in moves:
        mover += daily(1, start, end + 1, network=nets[old], ip=f"{nets[old][:-4]}9")
        mover += daily(1, end, end, network=nets[old], ip=f"{nets[old][:-4]}9", last_hour=9)
        mover += daily(1, end, end, network=nets[new], ip=f"{nets[new][:-4]}9", first_hour=11)
    daily_interval = history(observations=tuple(mover), check_in_interval=24 * HOUR)

    assert cloned_instance(daily_interval, DEFAULTS, NOW) == []


def test_the_same_pair_of_networks_on_repeat_days_is_a_clone_even_without_overlap() -> None:
    # A copy checking in five hours after the original from its own network, on three days:
    # the same pair recurs, though the sightings never interleave.
    days = [2, 5, 8]
    pair = daily(1, 10) + [
        o
        for back in days
        for o in daily(1, back, back, network="192.0.2.0/24", first_hour=23, last_hour=23)
    ]
    original = [
        replace(o, last_seen=o.first_seen + 18 * HOUR)
        if o.day in {NOW.date() - d * DAY for d in days}
        else o
        for o in pair
    ]
    daily_interval = history(observations=tuple(original), check_in_interval=24 * HOUR)

    (finding,) = cloned_instance(daily_interval, DEFAULTS, NOW)
    assert len(finding.evidence["activations"][0]["days_on_two_networks"]) == 3


def test_interleaved_networks_count_even_when_the_pair_changes() -> None:
    # A, B, A within the day: a move cannot produce it, so each such day counts alone.
    copies = [
        o
        for back, net in ((3, "192.0.2.0/24"), (6, "203.0.113.0/24"), (9, "233.252.0.0/24"))
        for o in daily(1, back, back, network=net, first_hour=8, last_hour=9)
    ]
    both = daily(1, 10) + copies

    (finding,) = cloned_instance(history(observations=tuple(both)), DEFAULTS, NOW)
    assert len(finding.evidence["activations"][0]["days_on_two_networks"]) == 3


def test_a_single_restore_from_an_older_backup_is_not_a_clone() -> None:
    normal = [
        LeasePresentation(aid(1), f"jti-{n}", f"jti-{n}", NOW - (20 - n) * HOUR) for n in range(9)
    ]
    restored = LeasePresentation(aid(1), "jti-2", "jti-9", NOW - 10 * HOUR)
    after = [
        LeasePresentation(aid(1), f"jti-{n}", f"jti-{n}", NOW - (20 - n) * HOUR)
        for n in range(10, 15)
    ]

    chain = (*normal, restored, *after)

    assert cloned_instance(history(lease_presentations=chain), DEFAULTS, NOW) == []
