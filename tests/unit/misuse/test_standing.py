"""REVOKED_CALLING_HOME, VERSION_NOT_COVERED and SIGNATURE_FAILURES."""

from __future__ import annotations

from datetime import timedelta

from licensing.misuse.history import SignatureFailureCount
from licensing.misuse.standing import revoked_calling_home, signature_failures, version_not_covered
from licensing.misuse.thresholds import Thresholds
from tests.unit.misuse.histories import HOUR, NOW, aid, daily, days_ago, history

DEFAULTS = Thresholds()


def test_a_revoked_key_that_keeps_calling_home_fires() -> None:
    revoked = history(
        status="revoked", status_changed_at=days_ago(5.5), observations=tuple(daily(1, 10))
    )

    (finding,) = revoked_calling_home(revoked, DEFAULTS, NOW)

    assert finding.evidence["status"] == "revoked"
    assert finding.evidence["check_ins"] == 5 * 24  # the whole days after the one-day grace
    assert finding.evidence["activations"] == [aid(1)]


def test_calls_within_the_grace_and_active_keys_stay_quiet() -> None:
    just_suspended = history(
        status="suspended",
        status_changed_at=NOW - 2 * HOUR,
        observations=tuple(daily(1, 3)),
    )
    active = history(observations=tuple(daily(1, 3)))

    assert revoked_calling_home(just_suspended, DEFAULTS, NOW) == []
    assert revoked_calling_home(active, DEFAULTS, NOW) == []


PROTECTED = {
    "upgrade_protection_until": days_ago(100),
    "release_dates": {"2.5": days_ago(200), "3.0.0": days_ago(50)},
}


def test_a_release_after_the_protection_ended_is_not_covered() -> None:
    running = daily(1, 3, version="3.0")  # spelled differently from the catalogue

    (finding,) = version_not_covered(
        history(observations=tuple(running), **PROTECTED), DEFAULTS, NOW
    )

    (version,) = finding.evidence["versions"]
    assert version["version"] == "3.0"
    assert version["released_at"] == "2026-05-11T12:00:00Z"
    assert version["activations"] == [aid(1)]


def test_covered_and_unknown_releases_stay_quiet() -> None:
    running = daily(1, 3, version="2.5.0") + daily(2, 3, version="9.9-nightly")

    assert (
        version_not_covered(history(observations=tuple(running), **PROTECTED), DEFAULTS, NOW) == []
    )
    assert (
        version_not_covered(history(observations=tuple(daily(1, 3, version="3.0"))), DEFAULTS, NOW)
        == []
    )


def test_a_burst_of_invalid_signatures_fires() -> None:
    start = NOW - 3 * HOUR
    burst = tuple(
        SignatureFailureCount("key-1", start + timedelta(minutes=m), 7) for m in (0, 20, 40)
    )

    (finding,) = signature_failures(history(signature_failures=burst), DEFAULTS, NOW)

    (key,) = finding.evidence["key_ids"]
    assert key == {
        "key_id": "key-1",
        "worst_burst": 21,
        "burst_at": key["burst_at"],
        "failures": 21,
    }


def test_a_steady_trickle_of_failures_is_not_a_burst() -> None:
    skewed_clock = tuple(SignatureFailureCount("key-1", NOW - n * HOUR, 1) for n in range(168))

    assert signature_failures(history(signature_failures=skewed_clock), DEFAULTS, NOW) == []


def test_failures_further_apart_than_the_window_are_separate_bursts() -> None:
    apart = (
        SignatureFailureCount("key-1", NOW - 3 * HOUR, 12),
        SignatureFailureCount("key-1", NOW - 2 * HOUR, 12),
        SignatureFailureCount("key-2", NOW - 3 * HOUR, 19),
    )
    closer = (*apart, SignatureFailureCount("key-1", NOW - 2 * HOUR - timedelta(minutes=1), 9))

    assert signature_failures(history(signature_failures=apart), DEFAULTS, NOW) == []
    (finding,) = signature_failures(history(signature_failures=closer), DEFAULTS, NOW)
    assert finding.evidence["key_ids"][0]["worst_burst"] == 21
