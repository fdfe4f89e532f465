"""SIGNATURE_FAILURES: bursts of invalid signatures for one key id (a forged or stolen key
id), each burst told apart by when it began so that a new one weeks later is new evidence."""

from __future__ import annotations

from datetime import datetime, timedelta

from licensing.misuse.findings import Finding, Rule, Severity, seen
from licensing.misuse.history import LicenseHistory, SignatureFailureCount
from licensing.misuse.thresholds import Thresholds
from licensing.timeutil import rfc3339


def bursts(
    buckets: list[SignatureFailureCount], window: timedelta, size: int
) -> list[tuple[datetime, int, datetime]]:
    """Each burst in ``buckets`` (sorted): where its first window reaching ``size`` failures
    starts, its worst window's failures and where that window starts. Windows reaching the
    size that overlap belong to one burst, so a burst that goes on keeps its start."""
    found: list[tuple[datetime, int, datetime]] = []
    total, tail = 0, 0
    reached_until: datetime | None = None  # the last bucket of the latest window reaching size
    for bucket in buckets:
        total += bucket.count
        while buckets[tail].bucket_start <= bucket.bucket_start - window:
            total -= buckets[tail].count
            tail += 1
        if total < size:
            continue
        start = buckets[tail].bucket_start
        if found and reached_until is not None and start <= reached_until:
            began, worst, worst_at = found[-1]
            if total > worst:
                worst, worst_at = total, start
            found[-1] = (began, worst, worst_at)
        else:
            found.append((start, total, start))
        reached_until = bucket.bucket_start
    return found


def signature_failures(
    history: LicenseHistory, thresholds: Thresholds, now: datetime
) -> list[Finding]:
    """Many invalid signatures for one key id within one window: a forged or stolen key id."""
    recent = [f for f in history.signature_failures if f.bucket_start >= now - thresholds.lookback]
    per_key = []
    for key_id in sorted({f.key_id for f in recent}):
        buckets = sorted((f for f in recent if f.key_id == key_id), key=lambda f: f.bucket_start)
        found = bursts(buckets, thresholds.signature_window, thresholds.signature_burst)
        if found:
            per_key.append((key_id, found, buckets))
    if not per_key:
        return []
    first = min(b[2][0].bucket_start for b in per_key)
    last = max(b[2][-1].bucket_start for b in per_key)
    key_ids = []
    for key_id, found, buckets in per_key:
        # The worst burst of the lookback; the earliest one when several are as bad.
        _, worst, worst_at = max(found, key=lambda b: (b[1], -b[2].timestamp()))
        key_ids.append(
            {
                "key_id": key_id,
                "worst_burst": worst,
                "burst_at": rfc3339(worst_at),
                "failures": sum(b.count for b in buckets),
                "bursts": [{"at": rfc3339(began), "worst": most} for began, most, _ in found],
            }
        )
    return [
        Finding(
            rule=Rule.SIGNATURE_FAILURES,
            severity=Severity.MEDIUM,
            license_id=history.license_id,
            first_seen=first,
            last_seen=last,
            summary=f"bursts of invalid signatures for {len(per_key)} key id(s)",
            evidence={
                "key_ids": key_ids,
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
