"""Rules over what the license entitles: a revoked key calling home, and versions its
upgrade protection does not cover."""

from __future__ import annotations

from datetime import datetime

from packaging.version import InvalidVersion, Version

from licensing.misuse.findings import Finding, Rule, Severity, seen
from licensing.misuse.history import REVOKED, SUSPENDED, LicenseHistory, distinct_per_period
from licensing.misuse.spread import distinct_values
from licensing.misuse.thresholds import Thresholds
from licensing.timeutil import rfc3339
from licensing.versions import version_covered


def revoked_calling_home(
    history: LicenseHistory, thresholds: Thresholds, now: datetime
) -> list[Finding]:
    """A revoked or suspended key that keeps checking in after it has had time to hear so."""
    if history.status not in (REVOKED, SUSPENDED) or history.status_changed_at is None:
        return []
    cutoff = max(history.status_changed_at + thresholds.revoked_grace, now - thresholds.lookback)
    calls = history.observations_since(cutoff)
    check_ins = sum(o.count for o in calls)
    if check_ins < thresholds.revoked_calls:
        return []
    first, last = min(o.first_seen for o in calls), max(o.last_seen for o in calls)
    return [
        Finding(
            rule=Rule.REVOKED_CALLING_HOME,
            severity=Severity.HIGH,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=f"{history.status} key checked in {check_ins} times after the grace period",
            evidence={
                "status": history.status,
                "status_changed_at": rfc3339(history.status_changed_at),
                "check_ins": check_ins,
                "threshold": thresholds.revoked_calls,
                "activations": sorted({o.activation_id for o in calls}),
                "networks": distinct_values(calls, lambda o: o.network, "network"),
                "servers": distinct_per_period(calls, lambda o: o.server_key),
                **seen(first, last),
                "ruled_out": (
                    f"clients that had not yet heard the answer: calls in the first "
                    f"{thresholds.revoked_grace_hours} hours after the change are not counted"
                ),
            },
        )
    ]


def _release(version: str) -> Version | None:
    """The version as a release: ``3.0`` and ``3.0.0`` are the same release."""
    try:
        return Version(version.strip())
    except InvalidVersion:
        return None


def version_not_covered(
    history: LicenseHistory, thresholds: Thresholds, now: datetime
) -> list[Finding]:
    """An instance runs a version its upgrade protection does not cover, by the same rule as
    the check-in's verdict: a release that came out after protection ended, or a version the
    catalogue does not know that is newer than the newest covered release."""
    protection_end = history.upgrade_protection_until
    if protection_end is None:
        return []
    released = {
        release: at
        for release, at in ((_release(v), at) for v, at in history.release_dates.items())
        if release is not None
    }
    judged: dict[str, bool] = {}  # each reported version string parsed once, not per row

    def not_covered(version: str) -> bool:
        if version not in judged:
            release = _release(version)
            # A version that does not parse never got a verdict either: not judged.
            judged[version] = release is not None and not version_covered(
                release, released, protection_end
            )
        return judged[version]

    recent = history.observations_since(now - thresholds.lookback)
    uncovered = [o for o in recent if o.product_version and not_covered(o.product_version)]
    if not uncovered:
        return []
    versions = distinct_values(
        uncovered, lambda o: str(_release(o.product_version or "")), "version"
    )
    for entry in versions:
        # None for a version the catalogue does not know.
        entry["released_at"] = rfc3339(released.get(Version(entry["version"])))
    first, last = min(o.first_seen for o in uncovered), max(o.last_seen for o in uncovered)
    return [
        Finding(
            rule=Rule.VERSION_NOT_COVERED,
            severity=Severity.MEDIUM,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=f"{len(versions)} version(s) the upgrade protection does not cover in use",
            evidence={
                "upgrade_protection_until": rfc3339(protection_end),
                "versions": versions,
                "activations": sorted({o.activation_id for o in uncovered}),
                **seen(first, last),
                "ruled_out": (
                    "releases that came out before the protection ended, and versions the "
                    "release catalogue does not know that are not newer than the newest "
                    "covered release"
                ),
            },
        )
    ]
