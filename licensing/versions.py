"""Product versions: PEP 440, which also reads the common semver spellings."""

from __future__ import annotations

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
