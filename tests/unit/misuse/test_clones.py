"""CLONED_INSTANCE by networks and by the lease chain, and its look-alikes."""

from __future__ import annotations

from licensing.misuse.clones import cloned_instance
from licensing.misuse.history import LeasePresentation
from licensing.misuse.thresholds import Thresholds
from tests.unit.misuse.histories import HOUR, NOW, OFFICE, aid, daily, history, lease_chain_clones

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
    # the last superseded lease's successor has not been presented yet
    assert len(superseded) == 4
    assert superseded[0] == {
        "at": superseded[0]["at"],
        "presented": "jti-0",
        "newest": "jti-1",
        "network": OFFICE,
    }


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
