"""Rules over what the license entitles: a revoked key calling home, releases its upgrade
protection does not cover, and bursts of invalid signatures for one key id."""

from __future__ import annotations

from datetime import datetime, timedelta

from packaging.version import InvalidVersion, Version

from licensing.misuse.findings import Finding, Rule, Severity, seen
from licensing.misuse.history import REVOKED, SUSPENDED, LicenseHistory, SignatureFailureCount
from licensing.misuse.spread import distinct_values
from licensing.misuse.thresholds import Thresholds
from licensing.timeutil import rfc3339


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
                "servers": len({o.server_key for o in calls if o.server_key}),
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
    """An instance runs a release that came out after its upgrade protection ended."""
    protection_end = history.upgrade_protection_until
    if protection_end is None:
        return []
    released = {_release(v): at for v, at in history.release_dates.items()}
    if not any(at > protection_end for at in released.values()):
        return []  # every release the catalogue knows came out while protected
    judged: dict[str, bool] = {}  # each reported version string parsed once, not per row

    def not_covered(version: str) -> bool:
        if version not in judged:
            at = released.get(_release(version))
            judged[version] = at is not None and at > protection_end
        return judged[version]

    recent = history.observations_since(now - thresholds.lookback)
    uncovered = [o for o in recent if o.product_version and not_covered(o.product_version)]
    if not uncovered:
        return []
    versions = distinct_values(
        uncovered, lambda o: str(_release(o.product_version or "")), "version"
    )
    for entry in versions:
        entry["released_at"] = rfc3339(released[_release(entry["version"])])
    first, last = min(o.first_seen for o in uncovered), max(o.last_seen for o in uncovered)
    return [
        Finding(
            rule=Rule.VERSION_NOT_COVERED,
            severity=Severity.MEDIUM,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=f"{len(versions)} release(s) newer than the upgrade protection in use",
            evidence={
                "upgrade_protection_until": rfc3339(protection_end),
                "versions": versions,
                "activations": sorted({o.activation_id for o in uncovered}),
                **seen(first, last),
                "ruled_out": (
                    "releases that came out before the protection ended, and versions the "
                    "release catalogue does not know (not judged)"
                ),
            },
        )
    ]


def _worst_window(buckets: list[SignatureFailureCount], window: timedelta) -> tuple[int, datetime]:
    """The most failures within one window, and where that window starts (buckets sorted)."""
    worst, worst_start, total, tail = 0, buckets[0].bucket_start, 0, 0
    for bucket in buckets:
        total += bucket.count
        while buckets[tail].bucket_start <= bucket.bucket_start - window:
            total -= buckets[tail].count
            tail += 1
        if total > worst:
            worst, worst_start = total, buckets[tail].bucket_start
    return worst, worst_start


def signature_failures(
    history: LicenseHistory, thresholds: Thresholds, now: datetime
) -> list[Finding]:
    """Many invalid signatures for one key id within one window: a forged or stolen key id."""
    recent = [f for f in history.signature_failures if f.bucket_start >= now - thresholds.lookback]
    bursts = []
    for key_id in sorted({f.key_id for f in recent}):
        buckets = sorted((f for f in recent if f.key_id == key_id), key=lambda f: f.bucket_start)
        worst, worst_start = _worst_window(buckets, thresholds.signature_window)
        if worst >= thresholds.signature_burst:
            bursts.append((key_id, worst, worst_start, buckets))
    if not bursts:
        return []
    first = min(b[3][0].bucket_start for b in bursts)
    last = max(b[3][-1].bucket_start for b in bursts)
    return [
        Finding(
            rule=Rule.SIGNATURE_FAILURES,
            severity=Severity.MEDIUM,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=f"bursts of invalid signatures for {len(bursts)} key id(s)",
            evidence={
                "key_ids": [
                    {
                        "key_id": key_id,
                        "worst_burst": worst,
                        "burst_at": rfc3339(at),
                        "failures": sum(b.count for b in buckets),
                    }
                    for key_id, worst, at, buckets in bursts
                ],
                "threshold": thresholds.signature_burst,
                "window_minutes": thresholds.signature_window_minutes,
                **seen(first, last),
                "ruled_out": (
                    "a skewed clock or a misconfigured client: occasional failures below "
                    f"{thresholds.signature_burst} in {thresholds.signature_window_minutes} minutes"
                ),
            },
        )
    ]
