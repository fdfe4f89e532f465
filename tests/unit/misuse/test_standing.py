"""REVOKED_CALLING_HOME and VERSION_NOT_COVERED."""

from __future__ import annotations

from licensing.misuse.standing import revoked_calling_home, version_not_covered
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


def test_covered_releases_and_versions_that_do_not_parse_stay_quiet() -> None:
    running = daily(1, 3, version="2.5.0") + daily(2, 3, version="9.9-nightly")

    assert (
        version_not_covered(history(observations=tuple(running), **PROTECTED), DEFAULTS, NOW) == []
    )
    assert (
        version_not_covered(history(observations=tuple(daily(1, 3, version="3.0"))), DEFAULTS, NOW)
        == []
    )


def test_an_unknown_version_newer_than_the_newest_covered_release_is_not_covered() -> None:
    # The verdict answers 9.9.9 VERSION_NOT_COVERED on every check-in: it is a case too.
    running = daily(1, 3, version="9.9.9")

    (finding,) = version_not_covered(
        history(observations=tuple(running), **PROTECTED), DEFAULTS, NOW
    )

    (version,) = finding.evidence["versions"]
    assert version["version"] == "9.9.9"
    assert version["released_at"] is None  # the catalogue does not know it


def test_an_unknown_version_fires_even_when_every_known_release_is_covered() -> None:
    covered_only = {
        "upgrade_protection_until": days_ago(10),
        "release_dates": {"2.5": days_ago(200)},
    }
    running = daily(1, 3, version="3.0.0")

    (finding,) = version_not_covered(
        history(observations=tuple(running), **covered_only), DEFAULTS, NOW
    )
    assert [v["version"] for v in finding.evidence["versions"]] == ["3.0.0"]


def test_an_unknown_version_older_than_the_newest_covered_release_is_covered() -> None:
    running = daily(1, 3, version="2.4.1") + daily(2, 3, version="1.0")

    assert (
        version_not_covered(history(observations=tuple(running), **PROTECTED), DEFAULTS, NOW) == []
    )
