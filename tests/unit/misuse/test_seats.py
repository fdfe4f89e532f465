"""MIGRATION_OVERSTAY and ACTIVATION_CHURN against their legitimate look-alikes."""

from __future__ import annotations

from licensing.misuse.findings import Rule
from licensing.misuse.seats import activation_churn, migration_overstay
from licensing.misuse.thresholds import Thresholds
from tests.unit.misuse.histories import DAY, NOW, aid, daily, days_ago, history, seat

DEFAULTS = Thresholds()


def test_two_instances_side_by_side_past_the_window_overstay() -> None:
    shared = history(
        activations=(seat(1, 70), seat(2, 45)),
        observations=tuple(daily(1, 70) + daily(2, 45, server="app-2.example.com")),
    )

    (finding,) = migration_overstay(shared, DEFAULTS, NOW)

    assert finding.rule is Rule.MIGRATION_OVERSTAY
    assert finding.evidence["instances"] == 2
    assert finding.evidence["activation_ids"] == [aid(1), aid(2)]
    assert [t["activation_id"] for t in finding.evidence["activations"]] == [aid(1), aid(2)]
    assert all(t["live"] for t in finding.evidence["activations"])
    assert finding.evidence["side_by_side_days"] > 30
    assert "migration" in finding.evidence["ruled_out"]


def test_a_hand_over_inside_the_window_is_a_migration() -> None:
    migrated = history(
        activations=(seat(1, 70), seat(2, 40)),
        # the old server goes silent 20 days after the new one started
        observations=tuple(daily(1, 70, 20) + daily(2, 40, server="app-2.example.com")),
    )

    assert migration_overstay(migrated, DEFAULTS, NOW) == []


def test_instances_within_the_allowance_are_not_an_overstay() -> None:
    two_seats = history(
        allowed_activations=2,
        activations=(seat(1, 70), seat(2, 45)),
        observations=tuple(daily(1, 70) + daily(2, 45)),
    )

    assert migration_overstay(two_seats, DEFAULTS, NOW) == []


def test_a_missed_check_in_does_not_end_the_side_by_side_period() -> None:
    gappy = daily(2, 45, 21) + daily(2, 19)  # one day without check-ins is a gap, not silence
    shared = history(
        check_in_interval=DAY,
        activations=(seat(1, 70), seat(2, 45)),
        observations=tuple(daily(1, 70) + gappy),
    )

    assert [f.rule for f in migration_overstay(shared, DEFAULTS, NOW)] == [Rule.MIGRATION_OVERSTAY]


def test_a_reinstall_with_a_new_fingerprint_is_not_churn() -> None:
    reinstalled = history(
        activations=(
            seat(1, 60, released_at=days_ago(2), release_reason="deactivated"),
            seat(2, 2, fingerprint="fp-new"),
        )
    )

    assert activation_churn(reinstalled, DEFAULTS, NOW) == []


def test_seats_passed_around_within_a_week_churn() -> None:
    passed_around = tuple(
        seat(n, 6 - n * 0.5, released_at=days_ago(5.9 - n * 0.5), release_reason="deactivated")
        for n in range(4)
    )

    (finding,) = activation_churn(history(activations=passed_around), DEFAULTS, NOW)

    assert finding.evidence["events"] == 8
    assert finding.evidence["fingerprints"] == 4
    assert [e["event"] for e in finding.evidence["timeline"]][:2] == ["activated", "released"]


def test_releases_by_the_cull_are_not_the_customers_churn() -> None:
    culled = tuple(
        seat(n, 6 - n * 0.5, released_at=days_ago(5.9 - n * 0.5), release_reason="culled")
        for n in range(4)
    )

    assert activation_churn(history(activations=culled), DEFAULTS, NOW) == []


def test_a_released_seat_is_not_live_after_its_release() -> None:
    # the old seat was released inside the window; a stale client kept calling for a while
    released = history(
        activations=(
            seat(1, 70, released_at=days_ago(40), release_reason="migration"),
            seat(2, 45),
        ),
        observations=tuple(daily(1, 70) + daily(2, 45, server="app-2.example.com")),
    )

    assert migration_overstay(released, DEFAULTS, NOW) == []
