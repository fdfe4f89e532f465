"""The partner's upgrade answer and the instance's verdict never disagree (PROTOCOL.md §5, §6).

For a version with a release record, a partner is told ``eligible`` exactly when an
instance of the same license running that version is not refused ``VERSION_NOT_COVERED``.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st
from packaging.version import Version

from licensing.services.license_state import LicenseState
from licensing.services.upgrades import EligibilityReason, ReleaseInfo, eligibility, version_covered
from licensing.services.verdicts import VerdictCode, license_verdict
from tests.factories import license_state

NOW = datetime(2026, 6, 1, tzinfo=UTC)
EPOCH = datetime(2020, 1, 1, tzinfo=UTC)


def state(protection_until: datetime | None) -> LicenseState:
    """A valid, perpetual license whose upgrade protection ends at ``protection_until``."""
    return license_state(upgrade_protection_until=protection_until)


# Whole minutes over ten years: collisions with the end of protection are likely enough.
moments = st.integers(min_value=0, max_value=10 * 365 * 24 * 60).map(
    lambda minutes: EPOCH + timedelta(minutes=minutes)
)
versions = st.tuples(
    st.integers(0, 4), st.integers(0, 4), st.integers(0, 4), st.sampled_from(["", "rc1", ".post1"])
).map(lambda parts: Version(f"{parts[0]}.{parts[1]}.{parts[2]}{parts[3]}"))
release_lists = st.lists(
    st.tuples(versions, moments), min_size=1, max_size=8, unique_by=lambda r: r[0]
).map(lambda pairs: tuple(ReleaseInfo(version, moment) for version, moment in pairs))


@st.composite
def cases(draw: st.DrawFn) -> tuple[tuple[ReleaseInfo, ...], datetime | None, Version]:
    releases = draw(release_lists)
    # The end of protection: none, any moment, or exactly a release's moment.
    protection_until = draw(
        st.one_of(
            st.none(), moments, st.sampled_from([release.released_at for release in releases])
        )
    )
    known = draw(st.sampled_from(releases)).version
    # The same release, possibly spelled with a trailing ".0" (equal under PEP 440).
    target = draw(st.sampled_from([known, Version(f"{known.base_version}.0{_suffix(known)}")]))
    return releases, protection_until, target


def _suffix(version: Version) -> str:
    return str(version)[len(version.base_version) :]


@settings(max_examples=30, deadline=None)
@given(cases())
def test_eligibility_agrees_with_the_instance_verdict(
    case: tuple[tuple[ReleaseInfo, ...], datetime | None, Version],
) -> None:
    releases, protection_until, target = case
    assert any(release.version == target for release in releases)

    answer = eligibility(target, releases, protection_until, license_valid=True)
    verdict = license_verdict(
        state(protection_until), product_code=None, version=target, releases=releases, now=NOW
    )

    assert answer.eligible == (verdict.code != VerdictCode.VERSION_NOT_COVERED)
    assert answer.eligible == version_covered(target, releases, protection_until)
    # The rule itself: released on or before the end of protection, or no end.
    (release,) = [r for r in releases if r.version == target]
    assert answer.eligible == (protection_until is None or release.released_at <= protection_until)
    assert answer.reason == (
        EligibilityReason.COVERED if answer.eligible else EligibilityReason.PROTECTION_EXPIRED
    )
    assert answer.renewal_required == (not answer.eligible)
    covered = [
        r.version for r in releases if protection_until is None or r.released_at <= protection_until
    ]
    assert answer.latest_eligible_version == (str(max(covered)) if covered else None)
    assert verdict.code in (VerdictCode.VALID, VerdictCode.VERSION_NOT_COVERED)
