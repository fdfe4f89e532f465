"""Rules over the seats' timelines: instances outstaying a migration, and activation churn."""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime, timedelta

from licensing.misuse.findings import Finding, Rule, Severity, seen
from licensing.misuse.history import ActivationTimeline, LicenseHistory
from licensing.misuse.thresholds import Thresholds
from licensing.timeutil import rfc3339

Span = tuple[datetime, datetime]
# Releases the server or staff made are not the customer moving seats around.
_NOT_CUSTOMER_RELEASES = frozenset({"culled", "staff"})


def live_spans(history: LicenseHistory) -> dict[str, list[Span]]:
    """When each activation was live: its check-ins, joined where the gaps are at most two
    intervals (a missed check-in is not going silent), ended by its release."""
    tolerance = 2 * history.check_in_interval
    raw: dict[str, list[Span]] = defaultdict(list)
    for observation in history.observations:
        raw[observation.activation_id].append((observation.first_seen, observation.last_seen))
    for timeline in history.activations:
        if timeline.activation_id not in raw and timeline.first_seen and timeline.last_seen:
            raw[timeline.activation_id].append((timeline.first_seen, timeline.last_seen))
    released = {a.activation_id: a.released_at for a in history.activations}
    spans: dict[str, list[Span]] = {}
    for activation_id, pieces in raw.items():
        merged: list[Span] = []
        for start, end in sorted(pieces):
            if merged and start - merged[-1][1] <= tolerance:
                merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
            else:
                merged.append((start, end))
        until = released.get(activation_id)
        if until is not None:
            merged = [(start, min(end, until)) for start, end in merged if start <= until]
        spans[activation_id] = merged
    return spans


def _over_allowance(history: LicenseHistory) -> list[tuple[datetime, datetime, frozenset[str]]]:
    """Periods when more activations were live than the license allows, and who was live."""
    events = sorted(
        (moment, kind, activation_id)
        for activation_id, spans in live_spans(history).items()
        for start, end in spans
        for moment, kind in ((start, 0), (end, 1))
    )
    live: set[str] = set()
    periods: list[tuple[datetime, datetime, frozenset[str]]] = []
    started: datetime | None = None
    members: set[str] = set()
    for moment, kind, activation_id in events:
        if kind == 0:
            live.add(activation_id)
        else:
            live.discard(activation_id)
        if len(live) > history.allowed_activations:
            if started is None:
                started, members = moment, set()
            members |= live
        elif started is not None:
            periods.append((started, moment, frozenset(members)))
            started = None
    return periods


def _timeline(timeline: ActivationTimeline, spans: list[Span]) -> dict[str, object]:
    return {
        "activation_id": timeline.activation_id,
        "fingerprint": timeline.fingerprint,
        "activated_at": rfc3339(timeline.activated_at),
        "released_at": rfc3339(timeline.released_at),
        "release_reason": timeline.release_reason,
        "live": [{"from": rfc3339(s), "until": rfc3339(e)} for s, e in spans],
    }


def migration_overstay(
    history: LicenseHistory, thresholds: Thresholds, now: datetime
) -> list[Finding]:
    """More instances than allowed checking in side by side for longer than the migration
    window. A hand-over where the old instance goes silent within the window stays quiet."""
    recent = now - thresholds.lookback
    overstays = [
        (start, end, members)
        for start, end, members in _over_allowance(history)
        if end - start > history.migration_window and end >= recent
    ]
    if not overstays:
        return []
    start, end, members = max(overstays, key=lambda period: period[1] - period[0])
    spans = live_spans(history)
    timelines = [
        _timeline(a, spans.get(a.activation_id, []))
        for a in history.activations
        if a.activation_id in members
    ]
    days = (end - start) / timedelta(days=1)
    return [
        Finding(
            rule=Rule.MIGRATION_OVERSTAY,
            severity=Severity.MEDIUM,
            license_id=history.license_id,
            first_seen=start,
            last_seen=end,
            summary=(
                f"{len(members)} instances checked in side by side for {days:.0f} days "
                f"({history.allowed_activations} allowed)"
            ),
            evidence={
                "allowed_activations": history.allowed_activations,
                "instances": len(members),
                "activation_ids": sorted(members),
                "side_by_side": {"from": rfc3339(start), "until": rfc3339(end)},
                "side_by_side_days": round(days, 1),
                "migration_window_days": history.migration_window.days,
                "activations": timelines,
                "ruled_out": (
                    "a migration: the old instance did not go silent within the "
                    f"{history.migration_window.days}-day migration window"
                ),
            },
        )
    ]


def activation_churn(
    history: LicenseHistory, thresholds: Thresholds, now: datetime
) -> list[Finding]:
    """Many activations and releases in a short time: seats passed around between machines."""
    since = now - thresholds.churn_window
    events: list[tuple[datetime, str, ActivationTimeline]] = []
    for timeline in history.activations:
        if timeline.activated_at >= since:
            events.append((timeline.activated_at, "activated", timeline))
        released = timeline.released_at
        if released and released >= since and timeline.release_reason not in _NOT_CUSTOMER_RELEASES:
            events.append((released, "released", timeline))
    if len(events) <= thresholds.churn_events:
        return []
    events.sort(key=lambda event: event[0])
    return [
        Finding(
            rule=Rule.ACTIVATION_CHURN,
            severity=Severity.LOW,
            license_id=history.license_id,
            first_seen=events[0][0],
            last_seen=events[-1][0],
            summary=f"{len(events)} activations and releases in {thresholds.churn_days} days",
            evidence={
                "events": len(events),
                "threshold": thresholds.churn_events,
                "window_days": thresholds.churn_days,
                "fingerprints": len({t.fingerprint for _, _, t in events}),
                "timeline": [
                    {
                        "at": rfc3339(at),
                        "event": kind,
                        "activation_id": t.activation_id,
                        "fingerprint": t.fingerprint,
                    }
                    for at, kind, t in events
                ],
                **seen(events[0][0], events[-1][0]),
                "ruled_out": (
                    "reinstalls and migrations (one release and one new activation each); "
                    "releases by the server's cull or by staff are not counted"
                ),
            },
        )
    ]
