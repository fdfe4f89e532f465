"""The eight misuse rules and ``evaluate``, which runs them all over one license's history.

Every rule has the same shape, ``rule(history, thresholds, now) -> list[Finding]``, so a
scan, a backtest of one rule and the tests call them alike.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import datetime

from licensing.misuse.clones import cloned_instance
from licensing.misuse.findings import Finding, Rule
from licensing.misuse.history import LicenseHistory
from licensing.misuse.seats import activation_churn, migration_overstay
from licensing.misuse.signatures import signature_failures
from licensing.misuse.spread import network_spread, server_spread
from licensing.misuse.standing import revoked_calling_home, version_not_covered
from licensing.misuse.thresholds import Thresholds

RuleFunction = Callable[[LicenseHistory, Thresholds, datetime], list[Finding]]

RULES: Mapping[Rule, RuleFunction] = {
    Rule.MIGRATION_OVERSTAY: migration_overstay,
    Rule.SERVER_SPREAD: server_spread,
    Rule.NETWORK_SPREAD: network_spread,
    Rule.CLONED_INSTANCE: cloned_instance,
    Rule.ACTIVATION_CHURN: activation_churn,
    Rule.REVOKED_CALLING_HOME: revoked_calling_home,
    Rule.VERSION_NOT_COVERED: version_not_covered,
    Rule.SIGNATURE_FAILURES: signature_failures,
}

__all__ = [
    "RULES",
    "activation_churn",
    "cloned_instance",
    "evaluate",
    "migration_overstay",
    "network_spread",
    "revoked_calling_home",
    "server_spread",
    "signature_failures",
    "version_not_covered",
]


def evaluate(
    history: LicenseHistory,
    thresholds: Thresholds,
    now: datetime,
    *,
    rules: tuple[Rule, ...] | None = None,
) -> list[Finding]:
    """Every finding for the license, in the rules' order (all rules unless ``rules``)."""
    findings: list[Finding] = []
    for rule in rules or tuple(RULES):
        findings += RULES[rule](history, thresholds, now)
    return findings
