"""What an erasure changes and keeps, as its plan (the dry run) and its report say it.

Data only: the rules that fill these in are services/erasure.py.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

# Tables erasure keeps rows of, and why (shown with every plan and report).
KEPT: dict[str, str] = {
    "disclosures": (
        "legal obligation (GDPR Art. 5(2), 19): the record of what partners were told; "
        "it names only the license id, which no longer leads to a person"
    ),
    "privacy_requests": (
        "accountability (Art. 5(2)): the record of the request and how it was answered"
    ),
    "audit_events": (
        "kept for security (Art. 32) and legal claims (Art. 17(3)(e)): hash-chained, they "
        "cannot be changed without breaking the chain; they hold ids and the reasons staff "
        "typed, which may name a person; deleted with the chain's prefix after "
        "LICENSING_RETENTION_AUDIT_DAYS, unless a legal hold on an earlier event stops "
        "the pruned prefix there"
    ),
    "approval_requests": (
        "kept for security (Art. 32) and legal claims (Art. 17(3)(e)): the four-eyes "
        "record of revocations, whose reasons the hash-chained audit events repeat; they "
        "hold ids and the reasons staff typed, which may name a person; deleted "
        "LICENSING_RETENTION_AUDIT_DAYS after the decision"
    ),
}


@dataclass(frozen=True, slots=True)
class TableChange:
    table: str
    action: str  # anonymised, revoked, deleted or unlinked
    rows: int


@dataclass(frozen=True, slots=True)
class KeptTable:
    table: str
    rows: int
    reason: str


@dataclass(frozen=True, slots=True)
class HoldKept:
    """A legal hold in force and what it kept from the erasure."""

    hold_id: uuid.UUID
    matter: str
    scope: str
    kept: dict[str, int]


@dataclass(frozen=True, slots=True)
class ErasurePlan:
    customer_id: uuid.UUID
    changes: tuple[TableChange, ...]
    kept: tuple[KeptTable, ...]
    holds: tuple[HoldKept, ...]

    @property
    def counts(self) -> dict[str, int]:
        return {c.table: c.rows for c in self.changes}

    @property
    def total(self) -> int:
        return sum(c.rows for c in self.changes)

    @property
    def touched_tables(self) -> tuple[str, ...]:
        """The tables whose rows change: the ones the database files are scrubbed of."""
        return tuple(c.table for c in self.changes if c.rows)

    def to_json(self) -> dict[str, Any]:
        return {
            "customer_id": str(self.customer_id),
            "changes": [
                {"table": c.table, "action": c.action, "rows": c.rows} for c in self.changes
            ],
            "kept": [{"table": k.table, "rows": k.rows, "reason": k.reason} for k in self.kept],
            "holds": [
                {"hold_id": str(h.hold_id), "matter": h.matter, "scope": h.scope, "kept": h.kept}
                for h in self.holds
            ],
        }


@dataclass(frozen=True, slots=True)
class ErasureReport:
    """What an erasure changed; ``scrubbed`` and ``scrub_seconds`` are filled in by the
    face once the database files were scrubbed, after the commit."""

    request_id: uuid.UUID | None
    erased_at: datetime
    plan: ErasurePlan
    scrubbed: tuple[str, ...] = field(default=())
    scrub_seconds: float | None = None
    scrub_problem: str | None = None

    def to_json(self) -> dict[str, Any]:
        return {
            "request_id": None if self.request_id is None else str(self.request_id),
            "erased_at": self.erased_at.isoformat(),
            **self.plan.to_json(),
            "scrubbed": list(self.scrubbed),
            "scrub_seconds": self.scrub_seconds,
            "scrub_problem": self.scrub_problem,
        }
