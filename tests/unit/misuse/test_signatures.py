"""SIGNATURE_FAILURES: bursts of invalid signatures per key id, each told apart by its start."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from licensing.misuse.evidence import is_beyond
from licensing.misuse.findings import Rule
from licensing.misuse.history import SignatureFailureCount
from licensing.misuse.signatures import signature_failures
from licensing.misuse.thresholds import Thresholds
from tests.unit.misuse.histories import DAY, HOUR, NOW, history

DEFAULTS = Thresholds()


def test_a_burst_of_invalid_signatures_fires() -> None:
    start = NOW - 3 * HOUR
    burst = tuple(
        SignatureFailureCount("key-1", start + timedelta(minutes=m), 7) for m in (0, 20, 40)
    )

    (finding,) = signature_failures(history(signature_failures=burst), DEFAULTS, NOW)

    (key,) = finding.evidence["key_ids"]
    assert key == {
        "key_id": "key-1",
        "worst_burst": 21,
        "burst_at": key["burst_at"],
        "failures": 21,
        "bursts": [{"at": key["burst_at"], "worst": 21}],
    }


def test_a_steady_trickle_of_failures_is_not_a_burst() -> None:
    skewed_clock = tuple(SignatureFailureCount("key-1", NOW - n * HOUR, 1) for n in range(168))

    assert signature_failures(history(signature_failures=skewed_clock), DEFAULTS, NOW) == []


def test_failures_further_apart_than_the_window_are_separate_bursts() -> None:
    apart = (
        SignatureFailureCount("key-1", NOW - 3 * HOUR, 12),
        SignatureFailureCount("key-1", NOW - 2 * HOUR, 12),
        SignatureFailureCount("key-2", NOW - 3 * HOUR, 19),
    )
    closer = (*apart, SignatureFailureCount("key-1", NOW - 2 * HOUR - timedelta(minutes=1), 9))

    assert signature_failures(history(signature_failures=apart), DEFAULTS, NOW) == []
    (finding,) = signature_failures(history(signature_failures=closer), DEFAULTS, NOW)
    assert finding.evidence["key_ids"][0]["worst_burst"] == 21


def burst(key_id: str, start: timedelta, sizes: tuple[int, ...]) -> list[SignatureFailureCount]:
    """Failures in five-minute buckets from ``start`` before NOW."""
    return [
        SignatureFailureCount(key_id, NOW - start + timedelta(minutes=5 * n), size)
        for n, size in enumerate(sizes)
    ]


def test_a_second_burst_weeks_later_of_the_same_size_is_a_burst_of_its_own() -> None:
    first = burst("key-1", 20 * DAY, (10, 10, 5))
    second = burst("key-1", 2 * DAY, (10, 10, 5))

    (finding,) = signature_failures(history(signature_failures=(*first, *second)), DEFAULTS, NOW)

    (key,) = finding.evidence["key_ids"]
    assert [b["worst"] for b in key["bursts"]] == [25, 25]
    assert key["bursts"][0]["at"] == key["burst_at"]  # the worst is the earlier one
    assert key["bursts"][1]["at"] == "2026-06-28T12:00:00Z"


def test_a_burst_that_goes_on_keeps_its_start() -> None:
    short = burst("key-1", 10 * HOUR, (10, 10, 5))
    going_on = burst("key-1", 10 * HOUR, (10, 10, 5) + (4,) * 36)  # three more hours

    (before,) = signature_failures(history(signature_failures=tuple(short)), DEFAULTS, NOW)
    (after,) = signature_failures(history(signature_failures=tuple(going_on)), DEFAULTS, NOW)

    (was,), (now,) = before.evidence["key_ids"], after.evidence["key_ids"]
    assert [b["at"] for b in now["bursts"]] == [b["at"] for b in was["bursts"]]
    assert len(now["bursts"]) == 1


def test_the_rule_s_evidence_reopens_on_a_new_burst_and_not_on_the_same_one() -> None:
    first = burst("key-1", 20 * DAY, (10, 10, 5))
    # An hour on, as many again: the windows reaching the size overlap, none is bigger.
    going_on = first + burst("key-1", 20 * DAY - HOUR, (10, 10))
    second = burst("key-1", 2 * DAY, (10, 10, 5))

    def evidence(*buckets: SignatureFailureCount) -> Mapping[str, Any]:
        (finding,) = signature_failures(history(signature_failures=buckets), DEFAULTS, NOW)
        return finding.evidence

    dismissed = evidence(*first)
    assert len(evidence(*going_on)["key_ids"][0]["bursts"]) == 1
    assert not is_beyond(Rule.SIGNATURE_FAILURES, dismissed, evidence(*going_on))
    assert is_beyond(Rule.SIGNATURE_FAILURES, dismissed, evidence(*first, *second))
