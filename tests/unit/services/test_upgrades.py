"""Upgrade eligibility (PROTOCOL.md §5, §6): one rule for verdicts and partner answers.

A release is covered when it was released on or before the end of upgrade protection
(decision 3: instants), or protection has no end. A version without a release record is
covered only if it is not newer than the newest covered release.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from packaging.version import Version

from licensing.services.upgrades import (
    EligibilityReason,
    ReleaseInfo,
    eligibility,
    version_covered,
)

V1 = datetime(2024, 1, 15, tzinfo=UTC)
V2 = datetime(2025, 6, 1, 12, 0, tzinfo=UTC)
V3 = datetime(2026, 3, 1, tzinfo=UTC)
RELEASES = (
    ReleaseInfo(Version("3.0.0"), V3),
    ReleaseInfo(Version("1.0.0"), V1),
    ReleaseInfo(Version("2.0.0"), V2),
)
ON_V2 = V2  # protection ends the instant 2.0.0 was released


@pytest.mark.parametrize(
    ("target", "protection", "valid", "reason", "latest"),
    [
        ("1.0.0", ON_V2, True, EligibilityReason.COVERED, "2.0.0"),  # released before
        ("2.0.0", ON_V2, True, EligibilityReason.COVERED, "2.0.0"),  # released on the end
        ("2.0", ON_V2, True, EligibilityReason.COVERED, "2.0.0"),  # same release (PEP 440)
        ("3.0.0", ON_V2, True, EligibilityReason.PROTECTION_EXPIRED, "2.0.0"),  # after
        (
            "2.0.0",
            ON_V2 - timedelta(seconds=1),
            True,
            EligibilityReason.PROTECTION_EXPIRED,
            "1.0.0",
        ),
        ("2.5.0", ON_V2, True, EligibilityReason.UNKNOWN_RELEASE, "2.0.0"),
        ("0.9.0", ON_V2, True, EligibilityReason.UNKNOWN_RELEASE, "2.0.0"),
        ("3.0.0", None, True, EligibilityReason.COVERED, "3.0.0"),  # no end to protection
        ("9.0.0", None, True, EligibilityReason.UNKNOWN_RELEASE, "3.0.0"),
        ("1.0.0", ON_V2, False, EligibilityReason.LICENSE_INVALID, "2.0.0"),
        ("2.5.0", ON_V2, False, EligibilityReason.LICENSE_INVALID, "2.0.0"),  # invalid first
        ("1.0.0", V1 - timedelta(days=1), True, EligibilityReason.PROTECTION_EXPIRED, None),
    ],
)
def test_the_eligibility_rule_table(
    target: str,
    protection: datetime | None,
    valid: bool,
    reason: EligibilityReason,
    latest: str | None,
) -> None:
    answer = eligibility(Version(target), RELEASES, protection, license_valid=valid)

    assert answer.reason is reason
    assert answer.eligible is (reason is EligibilityReason.COVERED)
    assert answer.renewal_required is (reason is EligibilityReason.PROTECTION_EXPIRED)
    assert answer.latest_eligible_version == latest
    assert answer.target_version == str(Version(target))


def test_no_releases_means_nothing_is_known() -> None:
    answer = eligibility(Version("1.0.0"), (), ON_V2, license_valid=True)
    assert (answer.reason, answer.eligible, answer.latest_eligible_version) == (
        EligibilityReason.UNKNOWN_RELEASE,
        False,
        None,
    )


@pytest.mark.parametrize(
    ("version", "protection", "covered"),
    [
        ("1.0.0", ON_V2, True),
        ("2.0.0", ON_V2, True),
        ("2.0.0", ON_V2 - timedelta(microseconds=1), False),
        ("3.0.0", ON_V2, False),
        ("1.5.0", ON_V2, True),  # unknown, older than 2.0.0
        ("2.0.0rc1", ON_V2, True),  # unknown pre-release of a covered release
        ("2.0.1", ON_V2, False),  # unknown, newer than the newest covered release
        ("2.9.0", ON_V2, False),  # unknown, between an uncovered and a covered release
        ("0.1.0", V1 - timedelta(days=1), False),  # nothing is covered at all
        ("99.0.0", None, True),  # no end to protection
    ],
)
def test_which_versions_an_instance_may_run(
    version: str, protection: datetime | None, covered: bool
) -> None:
    assert version_covered(Version(version), RELEASES, protection) is covered
