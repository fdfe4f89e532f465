"""``evaluate`` runs every rule, and pseudonymised histories give the same findings."""

from __future__ import annotations

import json

import pytest

from licensing.misuse.findings import Finding, Rule
from licensing.misuse.history import LicenseHistory, SignatureFailureCount
from licensing.misuse.rules import RULES, evaluate
from licensing.misuse.thresholds import Thresholds
from tests.unit.misuse.histories import (
    HOUR,
    NOW,
    daily,
    days_ago,
    history,
    lease_chain_clones,
    pseudonymised,
    seat,
)


def _everything_at_once() -> LicenseHistory:
    """A license that shows every pattern: one history, eight findings."""
    spread = [
        o
        for n in range(6)
        for o in daily(10 + n, 3, network=f"203.0.{n}.0/24", server=f"host-{n}", version="3.0")
    ]
    churn = tuple(
        seat(20 + n, 6 - n * 0.5, released_at=days_ago(5.9 - n * 0.5), release_reason="deactivated")
        for n in range(4)
    )
    return history(
        status="revoked",
        status_changed_at=days_ago(3),
        upgrade_protection_until=days_ago(100),
        release_dates={"3.0": days_ago(50)},
        activations=(seat(1, 70), seat(2, 45), *churn),
        observations=tuple(
            daily(1, 70)
            + daily(2, 45, server="app-2")
            + spread
            + daily(1, 4, network="192.0.2.0/24")
        ),
        lease_presentations=tuple(lease_chain_clones(4)),
        signature_failures=tuple(SignatureFailureCount("key-9", NOW - HOUR, 30) for _ in range(1)),
    )


def _comparable(findings: list[Finding]) -> list[tuple[object, ...]]:
    return [(f.rule, f.severity, f.first_seen, f.last_seen, f.summary) for f in findings]


def test_every_rule_fires_on_its_pattern_and_findings_are_json() -> None:
    findings = evaluate(_everything_at_once(), Thresholds(), NOW)

    assert [f.rule for f in findings] == list(Rule)
    assert set(RULES) == set(Rule)
    for finding in findings:
        document = json.loads(json.dumps(finding.to_json()))
        assert document["rule"] == finding.rule.value
        assert document["evidence"]["ruled_out"]


def test_pseudonymised_values_give_the_same_findings() -> None:
    raw = _everything_at_once()

    assert _comparable(evaluate(pseudonymised(raw), Thresholds(), NOW)) == _comparable(
        evaluate(raw, Thresholds(), NOW)
    )


@pytest.mark.parametrize("rule", list(Rule))
def test_pseudonymised_values_give_the_same_findings_rule_by_rule(rule: Rule) -> None:
    raw = _everything_at_once()
    thresholds = Thresholds()

    assert len(evaluate(pseudonymised(raw), thresholds, NOW, rules=(rule,))) == 1
    assert _comparable(evaluate(pseudonymised(raw), thresholds, NOW, rules=(rule,))) == _comparable(
        evaluate(raw, thresholds, NOW, rules=(rule,))
    )


def test_a_quiet_license_has_no_findings() -> None:
    quiet = history(activations=(seat(1, 90),), observations=tuple(daily(1, 40)))

    assert evaluate(quiet, Thresholds(), NOW) == []
    assert evaluate(pseudonymised(quiet), Thresholds(), NOW) == []
