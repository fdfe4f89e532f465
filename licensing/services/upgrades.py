"""Upgrade eligibility: the one rule shared by the instance verdict and the partner check.

What a license covers is decided by ``licensing.versions.version_covered``, which the
misuse rule ``VERSION_NOT_COVERED`` shares: a release is covered when it came out on or
before the end of upgrade protection; a version with no release record only if it is not
newer, by PEP 440 order, than the newest covered release.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from packaging.version import Version

from licensing import versions


class EligibilityReason(StrEnum):
    COVERED = "COVERED"
    PROTECTION_EXPIRED = "PROTECTION_EXPIRED"
    UNKNOWN_RELEASE = "UNKNOWN_RELEASE"
    LICENSE_INVALID = "LICENSE_INVALID"


@dataclass(frozen=True, slots=True)
class ReleaseInfo:
    version: Version
    released_at: datetime


@dataclass(frozen=True, slots=True)
class Eligibility:
    target_version: str
    eligible: bool
    reason: EligibilityReason
    latest_eligible_version: str | None
    renewal_required: bool


def is_covered(release: ReleaseInfo, protection_until: datetime | None) -> bool:
    return versions.released_in_time(release.released_at, protection_until)


def latest_covered(
    releases: Sequence[ReleaseInfo], protection_until: datetime | None
) -> ReleaseInfo | None:
    covered = [r for r in releases if is_covered(r, protection_until)]
    return max(covered, key=lambda r: r.version, default=None)


def version_covered(
    version: Version, releases: Sequence[ReleaseInfo], protection_until: datetime | None
) -> bool:
    """May an instance run ``version``? (the ``VERSION_NOT_COVERED`` verdict's rule)"""
    released = {release.version: release.released_at for release in releases}
    return versions.version_covered(version, released, protection_until)


def eligibility(
    target: Version,
    releases: Sequence[ReleaseInfo],
    protection_until: datetime | None,
    *,
    license_valid: bool,
) -> Eligibility:
    """Whether the license covers an upgrade to ``target`` (partner answers)."""
    newest = latest_covered(releases, protection_until)
    latest = str(newest.version) if newest is not None else None
    known = any(release.version == target for release in releases)
    if not license_valid:
        reason, eligible = EligibilityReason.LICENSE_INVALID, False
    elif not known:
        reason, eligible = EligibilityReason.UNKNOWN_RELEASE, False
    elif version_covered(target, releases, protection_until):
        reason, eligible = EligibilityReason.COVERED, True
    else:
        reason, eligible = EligibilityReason.PROTECTION_EXPIRED, False
    return Eligibility(
        target_version=str(target),
        eligible=eligible,
        reason=reason,
        latest_eligible_version=latest,
        renewal_required=reason is EligibilityReason.PROTECTION_EXPIRED,
    )
