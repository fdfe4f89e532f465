"""Product versions: PEP 440, which also reads the common semver spellings."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime

from packaging.version import InvalidVersion, Version

from licensing.errors import InvalidRequest


def parse_version(text: str, *, field: str = "version") -> Version:
    """Parse a PEP 440 or semver version (``1.2.3``, ``2.0.0-rc.1``, ``1.4+build.7``)."""
    try:
        return Version(text.strip())
    except InvalidVersion:
        raise InvalidRequest(
            f"{text!r} is not a version (PEP 440 or semver, e.g. 2.1.0)",
            errors={field: ["not a PEP 440 or semver version"]},
        ) from None


def released_in_time(released_at: datetime, protection_until: datetime | None) -> bool:
    """A release is covered when it came out on or before the end of upgrade protection (or
    protection has no end): the release date decides, not the number."""
    return protection_until is None or released_at <= protection_until


def version_covered(
    version: Version, released: Mapping[Version, datetime], protection_until: datetime | None
) -> bool:
    """May an instance run ``version``? The one rule behind both the check-in verdict
    ``VERSION_NOT_COVERED`` and the misuse rule of that name, so they cannot disagree.

    ``released`` maps the catalogue's releases to their dates. A version the catalogue does
    not know is covered only if it is not newer, by PEP 440 order, than the newest covered
    release: an unknown 9.9.9 is refused, an unknown 1.0.1 below a covered 2.0 is not.
    """
    if protection_until is None:
        return True
    at = released.get(version)
    if at is not None:
        return released_in_time(at, protection_until)
    covered = [v for v, when in released.items() if released_in_time(when, protection_until)]
    return bool(covered) and version <= max(covered)
