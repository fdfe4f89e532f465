"""The check-in verdict and the misuse rule VERSION_NOT_COVERED judge a version alike.

An instance answered ``VERSION_NOT_COVERED`` on its check-ins is exactly one the rule
reports, known release or not: both call ``licensing.versions.version_covered``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from licensing.misuse.history import LicenseHistory, Observation
from licensing.misuse.standing import version_not_covered
from licensing.misuse.thresholds import Thresholds
from licensing.services.upgrades import ReleaseInfo
from licensing.services.verdicts import VerdictCode, license_verdict
from tests.factories import license_state

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def refused(version: Version, releases: tuple[ReleaseInfo, ...], until: datetime | None) -> bool:
    verdict = license_verdict(
        license_state(upgrade_protection_until=until),
        product_code=None,
        version=version,
        releases=releases,
        now=NOW,
    )
    return verdict.code == VerdictCode.VERSION_NOT_COVERED


def reported(version: str, releases: tuple[ReleaseInfo, ...], until: datetime | None) -> bool:
    history = LicenseHistory(
        license_id="license",
        status="active",
        allowed_activations=1,
        migration_window=timedelta(days=30),
        check_in_interval=timedelta(hours=1),
        upgrade_protection_until=until,
        release_dates={str(r.version): r.released_at for r in releases},
        observations=(Observation("seat", NOW.date(), NOW, NOW, 1, product_version=version),),
    )
    return bool(version_not_covered(history, Thresholds(), NOW))


RELEASES = (
    ReleaseInfo(Version("1.0.0"), datetime(2023, 1, 1, tzinfo=UTC)),
    ReleaseInfo(Version("2.0.0"), datetime(2024, 1, 1, tzinfo=UTC)),
    ReleaseInfo(Version("3.0.0"), datetime(2025, 6, 1, tzinfo=UTC)),
)
PROTECTED_UNTIL = datetime(2025, 1, 1, tzinfo=UTC)  # covers 1.0.0 and 2.0.0, not 3.0.0


@pytest.mark.parametrize(
    ("version", "covered"),
    [
        ("2.0", True),  # a known release, spelled differently
        ("3.0.0", False),  # a known release after protection ended
        ("9.9.9", False),  # unknown, newer than the newest covered release
        ("2.5.0", False),  # unknown, between covered 2.0.0 and uncovered 3.0.0
        ("1.5.0", True),  # unknown, older than the newest covered release
        ("0.9", True),  # unknown, older than every release
    ],
)
def test_the_verdict_and_the_rule_agree(version: str, covered: bool) -> None:
    assert refused(Version(version), RELEASES, PROTECTED_UNTIL) is not covered
    assert reported(version, RELEASES, PROTECTED_UNTIL) is not covered


def test_no_end_to_protection_covers_every_version_for_both() -> None:
    assert not refused(Version("9.9.9"), RELEASES, None)
    assert not reported("9.9.9", RELEASES, None)


moments = st.integers(min_value=0, max_value=6 * 365).map(lambda d: EPOCH + timedelta(days=d))
versions = st.tuples(st.integers(0, 5), st.integers(0, 5), st.integers(0, 3)).map(
    lambda parts: Version(".".join(str(p) for p in parts))
)
release_lists = st.lists(
    st.tuples(versions, moments), min_size=0, max_size=6, unique_by=lambda r: r[0]
).map(lambda pairs: tuple(ReleaseInfo(version, moment) for version, moment in pairs))


@settings(max_examples=60, deadline=None)
@given(release_lists, moments, versions)
def test_the_verdict_and_the_rule_agree_on_any_catalogue(
    releases: tuple[ReleaseInfo, ...], until: datetime, version: Version
) -> None:
    # ``version`` is often not in the catalogue: the unknown versions are the point.
    assert refused(version, releases, until) == reported(str(version), releases, until)
