"""Findings: what a rule reports, with the evidence a reviewer decides on."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from licensing.timeutil import rfc3339


class Rule(enum.StrEnum):
    MIGRATION_OVERSTAY = "MIGRATION_OVERSTAY"
    SERVER_SPREAD = "SERVER_SPREAD"
    NETWORK_SPREAD = "NETWORK_SPREAD"
    CLONED_INSTANCE = "CLONED_INSTANCE"
    ACTIVATION_CHURN = "ACTIVATION_CHURN"
    REVOKED_CALLING_HOME = "REVOKED_CALLING_HOME"
    VERSION_NOT_COVERED = "VERSION_NOT_COVERED"
    SIGNATURE_FAILURES = "SIGNATURE_FAILURES"


class Severity(enum.StrEnum):
    LOW = "low"
    MEDIUM = "medium"
    HIGH = "high"


@dataclass(frozen=True, slots=True)
class Finding:
    """One rule firing for one license. ``evidence`` is JSON-able and self-contained:
    which activations, servers, networks and versions, counts, first and last seen, and
    ``ruled_out``, the legitimate explanation the rule checked and excluded."""

    rule: Rule
    severity: Severity
    license_id: str  # the license's UUID as text
    first_seen: datetime
    last_seen: datetime
    summary: str
    evidence: Mapping[str, Any]

    def to_json(self) -> dict[str, Any]:
        return {
            "rule": self.rule.value,
            "severity": self.severity.value,
            "license_id": self.license_id,
            "first_seen": rfc3339(self.first_seen),
            "last_seen": rfc3339(self.last_seen),
            "summary": self.summary,
            "evidence": dict(self.evidence),
        }


def seen(first: datetime | None, last: datetime | None) -> dict[str, str | None]:
    """First and last seen as the evidence writes them."""
    return {"first_seen": rfc3339(first), "last_seen": rfc3339(last)}
